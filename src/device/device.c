/* Platform and device enumeration and the capability queries, each done once. */
#include "device/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void query_str(cl_device_id d, cl_device_info what, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    if (clGetDeviceInfo(d, what, 0, NULL, &len) != CL_SUCCESS || len == 0) return;
    char *tmp = malloc(len + 1);
    if (!tmp) return;
    if (clGetDeviceInfo(d, what, len, tmp, NULL) == CL_SUCCESS) {
        tmp[len] = '\0';
        snprintf(buf, cap, "%s", tmp);
    }
    free(tmp);
}

static void platform_str(cl_platform_id p, cl_platform_info what, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    if (clGetPlatformInfo(p, what, 0, NULL, &len) != CL_SUCCESS || len == 0) return;
    char *tmp = malloc(len + 1);
    if (!tmp) return;
    if (clGetPlatformInfo(p, what, len, tmp, NULL) == CL_SUCCESS) {
        tmp[len] = '\0';
        snprintf(buf, cap, "%s", tmp);
    }
    free(tmp);
}

static int has_ext(const char *exts, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = exts; (s = strstr(s, name)) != NULL; s += n)
        if ((s == exts || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0')) return 1;
    return 0;
}

clgrad_status clgrad__device_query(cl_platform_id p, cl_device_id d, int pidx, int didx, clgrad_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pidx;
    info->device_index = didx;
    platform_str(p, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
    platform_str(p, CL_PLATFORM_VERSION, info->platform_version, sizeof info->platform_version);
    query_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    query_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    query_str(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
    query_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);

    /* The full extension string can exceed the struct's field; test against all of it. */
    size_t elen = 0;
    char *exts = NULL;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &elen) == CL_SUCCESS && elen > 0 &&
        (exts = calloc(elen + 1, 1)) != NULL)
        clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, elen, exts, NULL);
    snprintf(info->extensions, sizeof info->extensions, "%s", exts ? exts : "");

    char cver[128];
    query_str(d, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
    if (sscanf(cver, "OpenCL C %d.%d", &info->cl_c_major, &info->cl_c_minor) != 2) {
        info->cl_c_major = 1;
        info->cl_c_minor = 0;
    }

    cl_device_type type = 0;
    cl_bool unified = CL_FALSE, avail = CL_FALSE, comp = CL_FALSE;
    cl_uint cu = 0, clock = 0, align = 0;
    cl_ulong gmem = 0, maxalloc = 0, lmem = 0;
    cl_device_local_mem_type ltype = CL_GLOBAL;
    cl_device_fp_config dcfg = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL);
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof comp, &comp, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clock, &clock, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align, &align, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof ltype, &ltype, NULL);
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dcfg, &dcfg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    /* the sizes array has one entry per dimension the device supports (3 or more): read them all, keep 3 */
    cl_uint wdims = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof wdims, &wdims, NULL);
    if (wdims >= 1 && wdims <= 64) {
        size_t wsz[64] = {0};
        if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, wdims * sizeof wsz[0], wsz, NULL) == CL_SUCCESS)
            for (int i = 0; i < 3; i++) info->max_work_item_sizes[i] = i < (int)wdims ? wsz[i] : 1;
    }

    if (type & CL_DEVICE_TYPE_GPU)
        info->kind = unified ? CLGRAD_DEVICE_KIND_GPU_INTEGRATED : CLGRAD_DEVICE_KIND_GPU_DISCRETE;
    else if (type & CL_DEVICE_TYPE_ACCELERATOR) info->kind = CLGRAD_DEVICE_KIND_ACCELERATOR;
    else if (type & CL_DEVICE_TYPE_CPU) info->kind = CLGRAD_DEVICE_KIND_CPU;
    else info->kind = CLGRAD_DEVICE_KIND_OTHER;
    info->unified_memory = unified ? 1 : 0;
    info->available = avail ? 1 : 0;
    info->compiler_available = comp ? 1 : 0;
    info->compute_units = (int)cu;
    info->clock_mhz = (int)clock;
    info->mem_base_addr_align_bits = align;
    info->global_mem_bytes = gmem;
    info->max_alloc_bytes = maxalloc;
    info->local_mem_bytes = lmem;
    info->local_mem_kind = ltype == CL_LOCAL ? CLGRAD_LOCAL_MEM_LOCAL
                           : lmem > 0       ? CLGRAD_LOCAL_MEM_GLOBAL
                                            : CLGRAD_LOCAL_MEM_NONE;
    const char *e = exts ? exts : "";
    info->fp16 = has_ext(e, "cl_khr_fp16");
    info->fp64 = has_ext(e, "cl_khr_fp64") || dcfg != 0;
    info->subgroups = has_ext(e, "cl_khr_subgroups") || has_ext(e, "cl_intel_subgroups");
    free(exts);
    return CLGRAD_OK;
}

static const char *no_platform_hint =
    "no OpenCL platform found: the ICD loader found no driver. Install one (for the CPU: the "
    "Debian package pocl-opencl-icd) and check that /etc/OpenCL/vendors (or $OCL_ICD_VENDORS) "
    "holds its .icd file";

/* The devices found so far; ids[i] pairs with list[i]. */
typedef struct found {
    clgrad_device_info *list;
    cl_platform_id *pids;
    cl_device_id *dids;
    int n, cap;
} found;

static void found_free(found *f)
{
    free(f->list);
    free(f->pids);
    free(f->dids);
}

static int found_grow(found *f)
{
    int ncap = f->cap ? f->cap * 2 : 8;
    void *a = realloc(f->list, (size_t)ncap * sizeof *f->list);
    if (a) f->list = a;
    void *b = a ? realloc(f->pids, (size_t)ncap * sizeof *f->pids) : NULL;
    if (b) f->pids = b;
    void *c = b ? realloc(f->dids, (size_t)ncap * sizeof *f->dids) : NULL;
    if (c) f->dids = c;
    if (c) f->cap = ncap;
    return c != NULL;
}

/* Adds every device of platform p (index pidx), queried once. A platform that fails to
 * list its devices is skipped: a broken platform must not hide the others. */
static clgrad_status add_platform(found *f, cl_platform_id p, int pidx)
{
    cl_uint nd = 0;
    cl_int e = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
    if (e != CL_SUCCESS || nd == 0) return CLGRAD_OK; /* CL_DEVICE_NOT_FOUND: no devices */
    cl_device_id *devs = calloc(nd, sizeof *devs);
    if (!devs) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory listing devices");
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) nd = 0;
    for (cl_uint d = 0; d < nd; d++) {
        if (f->n == f->cap && !found_grow(f)) {
            free(devs);
            return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory listing devices");
        }
        clgrad__device_query(p, devs[d], pidx, (int)d, &f->list[f->n]);
        f->pids[f->n] = p;
        f->dids[f->n] = devs[d];
        f->n++;
    }
    free(devs);
    return CLGRAD_OK;
}

clgrad_status clgrad__devices_enumerate(clgrad_device_info **list_out, cl_platform_id **pids_out,
                                        cl_device_id **dids_out, int *n_out)
{
    *list_out = NULL;
    *n_out = 0;
    if (pids_out) *pids_out = NULL;
    if (dids_out) *dids_out = NULL;

    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (e == CL_SUCCESS && np == 0))
        return clgrad__fail(NULL, CLGRAD_ERR_NO_DEVICE, "%s", no_platform_hint);
    if (e != CL_SUCCESS) return clgrad__cl_fail(NULL, e, "clGetPlatformIDs");

    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory listing platforms");
    e = clGetPlatformIDs(np, plats, NULL);
    if (e != CL_SUCCESS) {
        free(plats);
        return clgrad__cl_fail(NULL, e, "clGetPlatformIDs");
    }
    found f = {0};
    clgrad_status st = CLGRAD_OK;
    for (cl_uint p = 0; p < np && st == CLGRAD_OK; p++) st = add_platform(&f, plats[p], (int)p);
    free(plats);
    if (st == CLGRAD_OK && f.n == 0)
        st = clgrad__fail(NULL, CLGRAD_ERR_NO_DEVICE, "OpenCL platforms exist but none has a device; %s",
                          no_platform_hint);
    if (st != CLGRAD_OK) {
        found_free(&f);
        return st;
    }
    *list_out = f.list;
    *n_out = f.n;
    if (pids_out) *pids_out = f.pids; else free(f.pids);
    if (dids_out) *dids_out = f.dids; else free(f.dids);
    return CLGRAD_OK;
}

clgrad_status clgrad_devices_list(clgrad_device_info **out, int *n)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    if (!out || !n) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_devices_list: out and n must not be NULL");
    return clgrad__devices_enumerate(out, NULL, NULL, n);
}

void clgrad_devices_free(clgrad_device_info *list) { free(list); }
