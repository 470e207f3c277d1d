/* Kernel sources and program builds: one program per (family, options) per context,
 * created lazily, loaded from the disk cache when a valid entry exists, else compiled
 * from source and stored. Build failures carry the compiler's log. */
#include "program/program.h"

#include "cl_embedded.h"
#include "core/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This layer's slot in a context (src/core/slot.c): the programs built so far and the disk
 * cache folder. */
typedef struct programs {
    clgrad__disk_cache *cache;   /* NULL when the disk cache is off */
    clgrad__program_entry *list; /* a singly linked list, newest first */
} programs;

static void programs_destroy(clgrad_context *ctx, void *state);
static const clgrad__slot_key programs_key = {"program cache", sizeof(programs), programs_destroy};

static programs *programs_of(const clgrad_context *ctx) { return clgrad__ctx_slot_find(ctx, &programs_key); }

clgrad_status clgrad__programs_create(clgrad_context *ctx, const char *cache_dir)
{
    programs *ps = clgrad__ctx_slot(ctx, &programs_key);
    if (!ps) return CLGRAD_ERR_HOST_MEMORY;
    ps->cache = clgrad__cache_open(ctx, cache_dir);
    return CLGRAD_OK;
}

const char *clgrad__cache_dir(const clgrad_context *ctx)
{
    const programs *ps = programs_of(ctx);
    return ps ? clgrad__cache_folder(ps->cache) : NULL;
}

size_t clgrad__family_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < clgrad__cl_sources_count; i++)
        if (strcmp(clgrad__cl_sources[i].name, "common") != 0) n++;
    return n;
}

const char *clgrad__family_name(size_t idx)
{
    for (size_t i = 0, k = 0; i < clgrad__cl_sources_count; i++) {
        if (strcmp(clgrad__cl_sources[i].name, "common") == 0) continue;
        if (k++ == idx) return clgrad__cl_sources[i].name;
    }
    return NULL;
}

static const clgrad__cl_source *embedded(const char *name)
{
    for (size_t i = 0; i < clgrad__cl_sources_count; i++)
        if (strcmp(clgrad__cl_sources[i].name, name) == 0) return &clgrad__cl_sources[i];
    return NULL;
}

/* Kernel sources are a few hundred KiB; a larger file is not one. */
#define MAX_SOURCE_BYTES ((size_t)16 << 20)

/* Reads <dir>/<name>.cl into *text (NUL-terminated). */
static clgrad_status read_disk(const clgrad_context *ctx, const char *dir, const char *name, char **text, size_t *len)
{
    size_t pn = strlen(dir) + strlen(name) + 8;
    char *path = malloc(pn);
    if (!path) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    snprintf(path, pn, "%s/%s.cl", dir, name);
    uint8_t *buf = NULL;
    clgrad_status st = clgrad__file_read(path, MAX_SOURCE_BYTES, 0, &buf, len);
    free(path);
    if (st != CLGRAD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", clgrad_last_error(NULL));
        return clgrad__fail(ctx, st, "CLGRAD_KERNEL_DIR=%s: cannot read %s.cl (%s)", dir, name, why);
    }
    *text = (char *)buf;
    return CLGRAD_OK;
}

static clgrad_status part(const clgrad_context *ctx, const char *name, char **text, size_t *len)
{
    const char *dir = clgrad__getenv("CLGRAD_KERNEL_DIR");
    if (dir) return read_disk(ctx, dir, name, text, len);
    const clgrad__cl_source *s = embedded(name);
    if (!s) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "no kernel family named \"%s\"", name);
    *text = malloc(s->size + 1);
    if (!*text) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    memcpy(*text, s->data, s->size);
    (*text)[s->size] = '\0';
    *len = s->size;
    return CLGRAD_OK;
}

clgrad_status clgrad__source_get(const clgrad_context *ctx, const char *family, char **text, size_t *len)
{
    char *common = NULL, *fam = NULL;
    size_t lc = 0, lf = 0;
    *text = NULL;
    CLGRAD_TRY(part(ctx, "common", &common, &lc));
    clgrad_status st = part(ctx, family, &fam, &lf);
    if (st != CLGRAD_OK) {
        free(common);
        return st;
    }
    char *all = malloc(lc + lf + 2);
    if (!all) {
        free(common);
        free(fam);
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    }
    memcpy(all, common, lc);
    all[lc] = '\n';
    memcpy(all + lc + 1, fam, lf);
    all[lc + lf + 1] = '\0';
    free(common);
    free(fam);
    *text = all;
    *len = lc + lf + 1;
    return CLGRAD_OK;
}

clgrad_status clgrad__program_options(const clgrad_context *ctx, const char *options, char **out)
{
    const clgrad_device_info *d = &clgrad__dev(ctx)->info;
    const char *env = clgrad__getenv("CLGRAD_BUILD_OPTIONS");
    int cl12 = d->cl_c_major > 1 || (d->cl_c_major == 1 && d->cl_c_minor >= 2);
    size_t n = 512 + (options ? strlen(options) : 0) + (env ? strlen(env) : 0);
    char *s = malloc(n);
    if (!s) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    snprintf(s, n, "%s-DCLGRAD_LOCAL_MEM=%d -DCLGRAD_HAS_FP16=%d -DCLGRAD_HAS_FP64=%d -DCLGRAD_MAX_WG=%zu %s %s",
             cl12 ? "-cl-std=CL1.2 " : "", d->local_mem_kind == CLGRAD_LOCAL_MEM_LOCAL ? 1 : 0, d->fp16, d->fp64,
             d->max_work_group_size, options ? options : "", env ? env : "");
    *out = s;
    return CLGRAD_OK;
}

static clgrad_status build_failed(clgrad_context *ctx, cl_program prog, const char *name, const char *opts, cl_int e)
{
    cl_device_id dev = clgrad__dev(ctx)->device;
    clgrad__fail(ctx, CLGRAD_ERR_BUILD, "building kernel family \"%s\" with options \"%s\" on %s failed: %s (%d)\n",
                 name, opts, clgrad__dev(ctx)->info.name, clgrad__cl_error_name(e), (int)e);
    size_t len = 0;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS && len > 0) {
        char *log = malloc(len + 1);
        if (log && clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS) {
            log[len] = '\0';
            clgrad__fail_append(ctx, "build log:\n");
            clgrad__fail_append(ctx, log);
        }
        free(log);
    }
    return CLGRAD_ERR_BUILD;
}

static clgrad_status save_binary(clgrad__disk_cache *cache, clgrad__program_entry *pe)
{
    if (!cache) return CLGRAD_OK;
    size_t size = 0;
    if (clGetProgramInfo(pe->program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0)
        return CLGRAD_ERR_OPENCL;
    unsigned char *bin = malloc(size);
    if (!bin) return CLGRAD_ERR_HOST_MEMORY;
    unsigned char *bins[1] = {bin};
    clgrad_status st = CLGRAD_ERR_OPENCL;
    if (clGetProgramInfo(pe->program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        st = clgrad__cache_store(cache, pe->key, bin, size);
    free(bin);
    if (st == CLGRAD_OK) pe->dirty = 0;
    return st;
}

static clgrad_status build(clgrad_context *ctx, clgrad__program_entry *pe, const char *source, size_t slen)
{
    char *opts = NULL;
    CLGRAD_TRY(clgrad__program_options(ctx, pe->options, &opts));
    clgrad__cache_key(ctx, source, slen, opts, pe->key);
    double t0 = clgrad__now();
    cl_int e;
    const clgrad__ctx_device *dev = clgrad__dev(ctx);
    clgrad_context_stats *stats = &clgrad__head(ctx)->stats;
    programs *ps = programs_of(ctx);
    clgrad__disk_cache *cache = ps ? ps->cache : NULL;

    if (cache) {
        unsigned char *bin = NULL;
        size_t blen = 0;
        if (clgrad__cache_load(cache, pe->key, &bin, &blen) == CLGRAD_OK) {
            const unsigned char *bins[1] = {bin};
            cl_int bstatus = CL_SUCCESS;
            cl_program p = clCreateProgramWithBinary(dev->cl, 1, &dev->device, &blen, bins, &bstatus, &e);
            free(bin);
            if (e == CL_SUCCESS && bstatus == CL_SUCCESS && clBuildProgram(p, 1, &dev->device, opts, NULL, NULL) == CL_SUCCESS) {
                pe->program = p;
                pe->from_cache = 1;
                stats->programs_from_cache++;
                stats->build_seconds += clgrad__now() - t0;
                free(opts);
                return CLGRAD_OK;
            }
            if (e == CL_SUCCESS) clReleaseProgram(p);
            /* the driver refused the binary: drop the entry and build from source */
            clgrad__cache_remove(cache, pe->key);
        }
    }

    const char *srcs[1] = {source};
    cl_program p = clCreateProgramWithSource(dev->cl, 1, srcs, &slen, &e);
    if (e != CL_SUCCESS) {
        free(opts);
        return clgrad__cl_fail(ctx, e, "clCreateProgramWithSource");
    }
    e = clBuildProgram(p, 1, &dev->device, opts, NULL, NULL);
    if (e != CL_SUCCESS) {
        clgrad_status st = build_failed(ctx, p, pe->family, opts, e);
        clReleaseProgram(p);
        free(opts);
        return st;
    }
    free(opts);
    pe->program = p;
    stats->programs_built++;
    stats->build_seconds += clgrad__now() - t0;
    save_binary(cache, pe); /* best effort: a read-only cache must not fail the build */
    return CLGRAD_OK;
}

static clgrad__program_entry *find(clgrad_context *ctx, const char *family, const char *options)
{
    const programs *ps = programs_of(ctx);
    for (clgrad__program_entry *pe = ps ? ps->list : NULL; pe; pe = pe->next)
        if (strcmp(pe->family, family) == 0 && strcmp(pe->options, options) == 0) return pe;
    return NULL;
}

static void release_entry(clgrad__program_entry *pe)
{
    for (int i = 0; i < pe->n_kernels; i++) {
        clReleaseKernel(pe->kernels[i].kernel);
        free(pe->kernels[i].name);
    }
    free(pe->kernels);
    if (pe->program) clReleaseProgram(pe->program);
    free(pe->family);
    free(pe->options);
    free(pe);
}

static clgrad_status get(clgrad_context *ctx, const char *family, const char *source, size_t slen,
                         const char *options, clgrad__program_entry **out)
{
    clgrad__program_entry *pe = calloc(1, sizeof *pe);
    if (!pe) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    pe->family = strdup(family);
    pe->options = strdup(options);
    clgrad_status st = (pe->family && pe->options) ? build(ctx, pe, source, slen)
                                                   : clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    if (st != CLGRAD_OK) {
        free(pe->family);
        free(pe->options);
        free(pe);
        return st;
    }
    programs *ps = clgrad__ctx_slot(ctx, &programs_key);
    if (!ps) {
        release_entry(pe);
        return CLGRAD_ERR_HOST_MEMORY;
    }
    pe->next = ps->list;
    ps->list = pe;
    *out = pe;
    return CLGRAD_OK;
}

clgrad_status clgrad__program_get(clgrad_context *ctx, const char *family, const char *options,
                                  clgrad__program_entry **out)
{
    if (!options) options = "";
    clgrad__program_entry *pe = find(ctx, family, options);
    if (pe) {
        *out = pe;
        return CLGRAD_OK;
    }
    char *src = NULL;
    size_t slen = 0;
    CLGRAD_TRY(clgrad__source_get(ctx, family, &src, &slen));
    clgrad_status st = get(ctx, family, src, slen, options, out);
    free(src);
    return st;
}

clgrad_status clgrad__program_from_source(clgrad_context *ctx, const char *name, const char *source,
                                          const char *options, clgrad__program_entry **out)
{
    if (!options) options = "";
    return get(ctx, name, source, strlen(source), options, out);
}

clgrad_status clgrad__kernel_get(clgrad_context *ctx, clgrad__program_entry *pe, const char *kernel, cl_kernel *out,
                                 size_t *wg_max)
{
    for (int i = 0; i < pe->n_kernels; i++)
        if (strcmp(pe->kernels[i].name, kernel) == 0) {
            *out = pe->kernels[i].kernel;
            if (wg_max) *wg_max = pe->kernels[i].wg_max;
            return CLGRAD_OK;
        }
    if (pe->n_kernels == pe->cap_kernels) {
        int ncap = pe->cap_kernels ? pe->cap_kernels * 2 : 8;
        void *p = realloc(pe->kernels, (size_t)ncap * sizeof *pe->kernels);
        if (!p) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
        pe->kernels = p;
        pe->cap_kernels = ncap;
    }
    cl_int e;
    cl_kernel k = clCreateKernel(pe->program, kernel, &e);
    if (e != CL_SUCCESS)
        return clgrad__fail(ctx, e == CL_INVALID_KERNEL_NAME ? CLGRAD_ERR_INVALID_ARG : CLGRAD_ERR_OPENCL,
                            "clCreateKernel(\"%s\") in family \"%s\": %s (%d)", kernel, pe->family,
                            clgrad__cl_error_name(e), (int)e);
    size_t wg = 1;
    clGetKernelWorkGroupInfo(k, clgrad__dev(ctx)->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (wg == 0) wg = 1;
    char *nm = strdup(kernel);
    if (!nm) {
        clReleaseKernel(k);
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    }
    pe->kernels[pe->n_kernels].name = nm;
    pe->kernels[pe->n_kernels].kernel = k;
    pe->kernels[pe->n_kernels].wg_max = wg;
    pe->n_kernels++;
    *out = k;
    if (wg_max) *wg_max = wg;
    return CLGRAD_OK;
}

void clgrad__program_note_launch(clgrad__program_entry *pe, const size_t *global, const size_t *local, int dim)
{
    /* PoCL specialises per local size (and, with a NULL local size, per global size) */
    uint64_t h = (uint64_t)dim * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < dim; i++) h = (h ^ (local ? local[i] : global[i] | (1ull << 62))) * 0x100000001B3ull;
    for (int i = 0; i < pe->n_shapes_seen; i++)
        if (pe->shapes_seen[i] == h) return;
    if (pe->n_shapes_seen == (int)(sizeof pe->shapes_seen / sizeof pe->shapes_seen[0])) return;
    pe->shapes_seen[pe->n_shapes_seen++] = h;
    pe->dirty = 1;
}

static void save_dirty(const programs *ps)
{
    if (!ps->cache) return;
    for (clgrad__program_entry *pe = ps->list; pe; pe = pe->next)
        if (pe->dirty) save_binary(ps->cache, pe);
}

void clgrad__programs_save(clgrad_context *ctx)
{
    const programs *ps = programs_of(ctx);
    if (ps) save_dirty(ps);
}

static void programs_destroy(clgrad_context *ctx, void *state)
{
    (void)ctx;
    programs *ps = state;
    save_dirty(ps);
    while (ps->list) {
        clgrad__program_entry *next = ps->list->next;
        release_entry(ps->list);
        ps->list = next;
    }
    clgrad__cache_close(ps->cache);
}
