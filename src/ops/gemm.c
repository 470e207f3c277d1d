/* GEMM providers: our own kernels (cl/matmul.cl) and CLBlast when the build has it; the
 * choice between them is in gemm_provider.c. Also the CPU variant's products with a B packed
 * once, for the fused epilogues of other families (the LSTM step).
 *
 * Our kernels come in two variants (see cl/matmul.cl): on devices whose local memory is
 * not on-chip (CPUs) B is packed into panels chunk by chunk along K and a register-blocked
 * kernel with work-group size 1 reads A in place and the panels of B; on GPUs one tiled kernel
 * reads the operands directly. Parameters come from the tables in src/program/tuning.c. */
#include "ops/gemm_impl.h"
#include "ops/tuned.h"

#include "clgrad_config.h"
#include "memory/memory.h"
#include "program/tuning.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if CLGRAD_HAVE_CLBLAST
#include <clblast_c.h>
#endif

#define FAMILY CLGRAD__GEMM_FAMILY
/* Packed panels of one K chunk are sized to stay in L2/L3 between packing and use (the
 * parameters' chunk_kb, else this). */
#define CHUNK_BYTES ((size_t)4 << 20)
/* Batch entries are packed in groups so the panel buffers stay below this. */
#define PACK_LIMIT_BYTES ((size_t)64 << 20)

static size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

/* This layer's slot in the context, created on first use (src/core/slot.c). */
static const clgrad__slot_key gemm_key = {"GEMM provider state", sizeof(clgrad__gemm_state), NULL};

clgrad__gemm_state *clgrad__gemm_state_of(clgrad_context *ctx) { return clgrad__ctx_slot(ctx, &gemm_key); }

clgrad_status clgrad__gemm_set_variant(clgrad_context *ctx, const char *variant)
{
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    int v = !variant ? 0 : !strcmp(variant, "cpu") ? 1 : !strcmp(variant, "tiled") ? 2 : -1;
    if (v < 0) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "unknown GEMM variant \"%s\"", variant);
    s->variant_forced = v;
    s->params_forced = 0;
    s->ready = 0;
    return CLGRAD_OK;
}

clgrad_status clgrad__gemm_set_params(clgrad_context *ctx, const clgrad__gemm_cpu_params *cpu,
                                      const clgrad__gemm_tiled_params *tiled)
{
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    if (cpu && !(cpu->mr >= 1 && cpu->nv >= 1 && cpu->pack_k >= 1 && cpu->wi_m >= 0 && cpu->wi_n >= 0 && cpu->chunk_kb >= 0 &&
                 (cpu->vw == 2 || cpu->vw == 4 || cpu->vw == 8 || cpu->vw == 16)))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "GEMM CPU parameters mr %d vw %d nv %d pack_k %d are invalid",
                            cpu->mr, cpu->vw, cpu->nv, cpu->pack_k);
    if (tiled && !(tiled->wpt_m >= 1 && tiled->wpt_n >= 1 && tiled->ts_k >= 1 && tiled->pad >= 0 &&
                   tiled->ts_m >= tiled->wpt_m && tiled->ts_n >= tiled->wpt_n && tiled->ts_m % tiled->wpt_m == 0 &&
                   tiled->ts_n % tiled->wpt_n == 0))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "GEMM tiled parameters %dx%dx%d with %dx%d per work-item are invalid", tiled->ts_m,
                            tiled->ts_n, tiled->ts_k, tiled->wpt_m, tiled->wpt_n);
    s->variant_forced = cpu ? 1 : tiled ? 2 : 0;
    s->params_forced = cpu || tiled;
    if (cpu) s->cpu = *cpu;
    if (tiled) s->tp = *tiled;
    s->ready = 0;
    return CLGRAD_OK;
}

/* --- our kernels: parameters ---------------------------------------------------------- */

/* Does the tiled build for p fit the device? Builds the program to ask the compiled kernel. */
static clgrad_status tiled_fits(clgrad_context *ctx, const clgrad__gemm_tiled_params *p, const char *opts, int *fits)
{
    const clgrad_device_info *d = &ctx->dev.info;
    size_t rt_n = (size_t)(p->ts_n / p->wpt_n), rt_m = (size_t)(p->ts_m / p->wpt_m);
    size_t wg = clgrad__tuning_gemm_tiled_wg(p), lmem = clgrad__tuning_gemm_tiled_local_bytes(p);
    *fits = 0;
    if (wg > d->max_work_group_size || (d->max_work_item_sizes[0] && rt_n > d->max_work_item_sizes[0]) ||
        (d->max_work_item_sizes[1] && rt_m > d->max_work_item_sizes[1]) || lmem > d->local_mem_bytes)
        return CLGRAD_OK;
    clgrad__program_entry *pe;
    cl_kernel k;
    size_t wg_max = 0;
    CLGRAD_TRY(clgrad__program_get(ctx, FAMILY, opts, &pe));
    CLGRAD_TRY(clgrad__kernel_get(ctx, pe, "matmul_tiled_f32", &k, &wg_max));
    cl_ulong klmem = 0;
    if (clGetKernelWorkGroupInfo(k, ctx->dev.device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klmem, &klmem, NULL) != CL_SUCCESS)
        klmem = lmem;
    *fits = wg <= wg_max && klmem <= d->local_mem_bytes;
    return CLGRAD_OK;
}

int clgrad__gemm_default_tiled(const clgrad_device_info *d)
{
    clgrad__tuning_device td = {d, 0};
    return clgrad__tuning_gemm_variant(&td, NULL)->tiled;
}

clgrad_status clgrad__gemm_resolve(clgrad_context *ctx, clgrad__gemm_state *s)
{
    unsigned gen = clgrad__tuned_generation(ctx);
    if (s->ready && s->generation == gen) return CLGRAD_OK;
    /* the table rows, the device's tuned values or a test's style (src/ops/tuned.c) */
    clgrad__gemm_choice c;
    clgrad__tuned_gemm(ctx, &c);
    s->generation = gen;
    s->tiled = s->variant_forced ? s->variant_forced == 2 : c.tiled;
    if (!s->tiled) {
        if (!s->params_forced) s->cpu = c.cpu;
        clgrad__tuning_gemm_cpu_options(&s->cpu, s->opts, sizeof s->opts);
        s->ready = 1;
        return CLGRAD_OK;
    }
    clgrad__gemm_tiled_params p = s->params_forced ? s->tp : c.tp;
    for (;;) {
        int fits = 0;
        clgrad__tuning_gemm_tiled_options(&p, s->opts, sizeof s->opts);
        CLGRAD_TRY(tiled_fits(ctx, &p, s->opts, &fits));
        if (fits) break;
        if (!clgrad__tuning_gemm_tiled_shrink(&p))
            return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                                "matmul: no tiled GEMM configuration fits %s (work-group limit %zu, local memory %llu bytes)",
                                ctx->dev.info.name, ctx->dev.info.max_work_group_size,
                                (unsigned long long)ctx->dev.info.local_mem_bytes);
    }
    s->tp = p;
    s->ready = 1;
    return CLGRAD_OK;
}

/* --- our kernels: launches ------------------------------------------------------------- */

/* The kernels' epi flags of g (cl/matmul.cl: 1 bias by column, 2 by row, 4 relu). */
static cl_int epi_flags(const clgrad__gemm_args *g)
{
    return (g->bias && g->bias_mode == CLGRAD__GEMM_BIAS_COL ? 1 : 0) |
           (g->bias && g->bias_mode == CLGRAD__GEMM_BIAS_ROW ? 2 : 0) | (g->relu ? 4 : 0);
}

/* The epilogue alone, over a finished C (after CLBlast, or a product with K == 0). */
static clgrad_status gemm_epilogue(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g)
{
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, ldc = (cl_int)g->ldc, epi = epi_flags(g);
    if (!epi) return CLGRAD_OK;
    cl_long off = g->c_off, stride = g->c_bstride, boff = g->bias_off;
    cl_mem bias = g->bias ? g->bias : g->c;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(M), CLGRAD_KARG(N), CLGRAD_KARG(g->c), CLGRAD_KARG(off),
                                  CLGRAD_KARG(ldc), CLGRAD_KARG(stride), CLGRAD_KARG(bias), CLGRAD_KARG(boff),
                                  CLGRAD_KARG(epi));
    size_t global[3] = {(size_t)g->n, (size_t)g->m, (size_t)g->batch};
    size_t local[3] = {g->n >= 64 ? 64 : (size_t)g->n, 1, 1};
    return clgrad__launch(ctx, FAMILY, s->opts, "matmul_epilogue_f32", 3, global, local, a);
}

static const size_t one3[3] = {1, 1, 1};

/* C = beta * C over the whole batch (the product when K == 0). */
static clgrad_status gemm_scale(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g)
{
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, ldc = (cl_int)g->ldc;
    cl_float beta = g->beta;
    cl_long off = g->c_off, stride = g->c_bstride;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(M), CLGRAD_KARG(N), CLGRAD_KARG(beta), CLGRAD_KARG(g->c),
                                  CLGRAD_KARG(off), CLGRAD_KARG(ldc), CLGRAD_KARG(stride));
    size_t global[3] = {(size_t)g->n, (size_t)g->m, (size_t)g->batch};
    size_t local[3] = {g->n >= 64 ? 64 : (size_t)g->n, 1, 1};
    return clgrad__launch(ctx, FAMILY, s->opts, "matmul_scale_f32", 3, global, local, a);
}

static clgrad_status gemm_tiled(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g)
{
    const clgrad__gemm_tiled_params *p = &s->tp;
    size_t rt_n = (size_t)(p->ts_n / p->wpt_n), rt_m = (size_t)(p->ts_m / p->wpt_m);
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, K = (cl_int)g->k, ta = g->trans_a ? 1 : 0, tb = g->trans_b ? 1 : 0;
    cl_int lda = (cl_int)g->lda, ldb = (cl_int)g->ldb, ldc = (cl_int)g->ldc;
    cl_float alpha = g->alpha, beta = g->beta;
    cl_long oa = g->a_off, sa = g->a_bstride, ob = g->b_off, sb = g->b_bstride, oc = g->c_off, sc = g->c_bstride;
    cl_long boff = g->bias_off;
    cl_int epi = epi_flags(g);
    cl_mem bias = g->bias ? g->bias : g->c;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG(M), CLGRAD_KARG(N), CLGRAD_KARG(K), CLGRAD_KARG(alpha), CLGRAD_KARG(beta),
                    CLGRAD_KARG(ta), CLGRAD_KARG(g->a), CLGRAD_KARG(oa), CLGRAD_KARG(lda), CLGRAD_KARG(sa),
                    CLGRAD_KARG(tb), CLGRAD_KARG(g->b), CLGRAD_KARG(ob), CLGRAD_KARG(ldb), CLGRAD_KARG(sb),
                    CLGRAD_KARG(g->c), CLGRAD_KARG(oc), CLGRAD_KARG(ldc), CLGRAD_KARG(sc), CLGRAD_KARG(bias),
                    CLGRAD_KARG(boff), CLGRAD_KARG(epi));
    size_t global[3] = {cdiv((size_t)g->n, (size_t)p->ts_n) * rt_n, cdiv((size_t)g->m, (size_t)p->ts_m) * rt_m,
                        (size_t)g->batch};
    size_t local[3] = {rt_n, rt_m, 1};
    return clgrad__launch(ctx, FAMILY, s->opts, "matmul_tiled_f32", 3, global, local, a);
}

/* Panels per packing work-item: about 4096 floats each, but at least 32 work-items. */
static cl_int pack_ppi(size_t w, size_t kper, size_t panels, size_t other_items)
{
    size_t ppi = 4096 / (w * kper);
    if (ppi < 1) ppi = 1;
    while (ppi > 1 && cdiv(panels, ppi) * other_items < 32) ppi /= 2;
    return (cl_int)ppi;
}

/* One packing launch: op(X) rows (A) or columns (B) of the k range into w-wide panels. */
static clgrad_status pack(clgrad_context *ctx, clgrad__gemm_state *s, const char *kernel, cl_int rows, cl_int kl,
                          size_t w, cl_int trans, cl_mem src, cl_long off, cl_int ld, cl_long stride, size_t nb,
                          cl_mem dst, cl_long dst_stride)
{
    size_t pk = (size_t)s->cpu.pack_k, kper = (size_t)kl < pk ? (size_t)kl : pk, panels = cdiv((size_t)rows, w);
    cl_int ppi = pack_ppi(w, kper, panels, cdiv((size_t)kl, pk) * nb);
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG(rows), CLGRAD_KARG(kl), CLGRAD_KARG(ppi), CLGRAD_KARG(trans), CLGRAD_KARG(src),
                    CLGRAD_KARG(off), CLGRAD_KARG(ld), CLGRAD_KARG(stride), CLGRAD_KARG(dst), CLGRAD_KARG(dst_stride));
    size_t global[3] = {cdiv((size_t)kl, pk), cdiv(panels, (size_t)ppi), nb};
    return clgrad__launch(ctx, FAMILY, s->opts, kernel, 3, global, one3, a);
}

/* Micro-tiles per compute work-item: about wi_m x wi_n of C each (the parameters, 64 x 128
 * when 0), fewer while that leaves under ~8 work-items per compute unit. */
static void pick_tiles(const clgrad_context *ctx, const clgrad__gemm_cpu_params *p, size_t pm, size_t pn, size_t mr,
                       size_t nr, size_t nb, cl_int *tm, cl_int *tn)
{
    size_t t_m = cdiv(p->wi_m > 0 ? (size_t)p->wi_m : 64, mr), t_n = cdiv(p->wi_n > 0 ? (size_t)p->wi_n : 128, nr);
    size_t want = 8 * (size_t)(ctx->dev.info.compute_units > 2 ? ctx->dev.info.compute_units : 2);
    while (cdiv(pm, t_m) * cdiv(pn, t_n) * nb < want && (t_m > 1 || t_n > 1)) {
        if (t_n >= t_m && t_n > 1) t_n = cdiv(t_n, 2);
        else t_m = cdiv(t_m, 2);
    }
    *tm = (cl_int)t_m;
    *tn = (cl_int)t_n;
}

/* B is read in place rather than packed when it is not transposed, its columns fill whole
 * micro-panels, K is short and its rows are close (a cache block of one micro-panel then
 * stays in L1 and the TLB while the row panels pass over it): packing would only copy it
 * once more. Rows far apart (a convolution's column matrix) read slower than a packed copy
 * (measured on a CPU device). */
#define DIRECT_B_MAX_K 512
#define DIRECT_B_MAX_LDB 4096

static int direct_b_of(const clgrad__gemm_args *g, size_t nr)
{
    return !g->trans_b && (size_t)g->n % nr == 0 && g->k <= DIRECT_B_MAX_K && g->ldb <= DIRECT_B_MAX_LDB;
}

/* A product with a transposed B (its rows run along k) at least twice as wide as it is tall
 * runs as its transpose, C^T = op(B)^T op(A)^T: B is then read in place as the left operand
 * (rows along k, as A's are read) and the smaller op(A) is packed, half the copying or less
 * (a linear layer's x W^T for a batch smaller than the layer, a convolution's weight
 * gradient dy cols^T). C^T is stored transposed, which is C; every element is the same sum
 * in the same k order. */
static int swap_pays(const clgrad__gemm_args *g, size_t nr)
{
    return g->trans_b && !direct_b_of(g, nr) && g->n >= 2 * g->m;
}

static clgrad__gemm_args swapped(const clgrad__gemm_args *g)
{
    clgrad__gemm_args t = *g;
    t.trans_a = 0, t.trans_b = !g->trans_a, t.m = g->n, t.n = g->m;
    t.a = g->b, t.a_off = g->b_off, t.lda = g->ldb, t.a_bstride = g->b_bstride;
    t.b = g->a, t.b_off = g->a_off, t.ldb = g->lda, t.b_bstride = g->a_bstride;
    t.bias_mode = g->bias_mode == CLGRAD__GEMM_BIAS_COL   ? CLGRAD__GEMM_BIAS_ROW
                  : g->bias_mode == CLGRAD__GEMM_BIAS_ROW ? CLGRAD__GEMM_BIAS_COL
                                                          : g->bias_mode;
    return t;
}

#define EPI_CT 8 /* MM_EPI_CT of cl/matmul.cl: C stored transposed */

static clgrad_status gemm_cpu(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g0)
{
    const size_t mr = (size_t)s->cpu.mr, nr = (size_t)s->cpu.nv * (size_t)s->cpu.vw;
    const int swap = swap_pays(g0, nr);
    const clgrad__gemm_args gs = swap ? swapped(g0) : *g0, *g = &gs;
    const cl_int ct = swap ? EPI_CT : 0;
    const size_t pm = cdiv((size_t)g->m, mr), pn = cdiv((size_t)g->n, nr), batch = (size_t)g->batch;
    const int direct_b = direct_b_of(g, nr);
    /* A is read in place; B is packed (unless read in place too), once when the whole batch
     * shares it (batch stride 0) */
    const int shared_b = g->b_bstride == 0 || batch == 1;
    const size_t k = (size_t)g->k, k_small = k < 512 ? k : 512;
    size_t bg = batch;
#define PANEL_FLOATS(b) (pn * nr * (shared_b ? 1 : (b)))
    while (!direct_b && bg > 1 && sizeof(float) * k_small * PANEL_FLOATS(bg) > PACK_LIMIT_BYTES) bg = cdiv(bg, 2);
    const size_t chunk_bytes = s->cpu.chunk_kb > 0 ? (size_t)s->cpu.chunk_kb << 10 : CHUNK_BYTES;
    size_t chunk = chunk_bytes / (sizeof(float) * PANEL_FLOATS(bg)) / 256 * 256;
#undef PANEL_FLOATS
    if (chunk < 512) chunk = 512;
    if (chunk > k || direct_b) chunk = k;
    const size_t nbp = shared_b ? 1 : bg;
    clgrad__buffer *bp = NULL;
    clgrad_status st = direct_b ? CLGRAD_OK : clgrad__buffer_alloc(ctx, sizeof(float) * pn * nr * chunk * nbp, &bp);
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, ldb = (cl_int)g->ldb, ldc = (cl_int)g->ldc;
    cl_int ta = g->trans_a ? 1 : 0, tb = g->trans_b ? 1 : 0, tm, tn;
    const cl_long rs = ta ? 1 : g->lda, ks = ta ? g->lda : 1, boff = g->bias_off;
    cl_mem bias = g->bias ? g->bias : g->c;
    for (size_t k0 = 0; st == CLGRAD_OK && k0 < k; k0 += chunk) {
        cl_int kl = (cl_int)(k - k0 < chunk ? k - k0 : chunk);
        cl_long sbp = (cl_long)(pn * nr) * kl;
        /* the k range starts k0 columns (or rows, when transposed) into A and B */
        cl_long oa = g->a_off + (cl_long)k0 * ks;
        cl_long ob = g->b_off + (tb ? (cl_long)k0 : (cl_long)k0 * g->ldb);
        cl_float alpha = g->alpha, beta = k0 == 0 ? g->beta : 1.0f;
        cl_int epi = (k0 + chunk >= k ? epi_flags(g) : 0) | ct; /* the epilogue after the last chunk */
        if (shared_b && !direct_b)
            st = pack(ctx, s, "matmul_pack_b_f32", N, kl, nr, tb, g->b, ob, ldb, 0, 1, bp->mem, sbp);
        for (size_t b0 = 0; st == CLGRAD_OK && b0 < batch; b0 += bg) {
            size_t nb = batch - b0 < bg ? batch - b0 : bg;
            cl_long sa = g->a_bstride, sb = g->b_bstride, sc = g->c_bstride;
            if (!shared_b && !direct_b)
                st = pack(ctx, s, "matmul_pack_b_f32", N, kl, nr, tb, g->b, ob + (cl_long)b0 * sb, ldb, sb, nb,
                          bp->mem, sbp);
            if (st != CLGRAD_OK) break;
            pick_tiles(ctx, &s->cpu, pm, pn, mr, nr, nb, &tm, &tn);
            cl_int kb = kl < 256 ? kl : 256;
            cl_long oab = oa + (cl_long)b0 * sa, oc = g->c_off + (cl_long)b0 * sc;
            /* B's micro-panels: packed (panel stride K*nr, row stride nr) or in place */
            cl_mem bmem = direct_b ? g->b : bp->mem;
            cl_long obp = direct_b ? ob + (cl_long)b0 * sb : 0, panel_b = direct_b ? (cl_long)nr : (cl_long)kl * (cl_long)nr;
            cl_long bks = direct_b ? g->ldb : (cl_long)nr, sbp_use = direct_b ? sb : shared_b ? 0 : sbp;
            clgrad__kargs a = CLGRAD_ARGS(
                CLGRAD_KARG(M), CLGRAD_KARG(N), CLGRAD_KARG(kl), CLGRAD_KARG(kb), CLGRAD_KARG(tm), CLGRAD_KARG(tn),
                CLGRAD_KARG(alpha), CLGRAD_KARG(beta), CLGRAD_KARG(g->a), CLGRAD_KARG(oab), CLGRAD_KARG(rs),
                CLGRAD_KARG(ks), CLGRAD_KARG(sa), CLGRAD_KARG(bmem), CLGRAD_KARG(obp), CLGRAD_KARG(panel_b),
                CLGRAD_KARG(bks), CLGRAD_KARG(sbp_use), CLGRAD_KARG(g->c), CLGRAD_KARG(oc), CLGRAD_KARG(ldc),
                CLGRAD_KARG(sc), CLGRAD_KARG(bias), CLGRAD_KARG(boff), CLGRAD_KARG(epi));
            size_t global[3] = {cdiv(pm, (size_t)tm), cdiv(pn, (size_t)tn), nb};
            st = clgrad__launch(ctx, FAMILY, s->opts, "matmul_cpu_f32", 3, global, one3, a);
        }
    }
    /* in-order queue: a later user of the buffer runs after the launches above */
    if (bp) clgrad__buffer_release(bp);
    return st;
}

void clgrad__gemm_cpu_tiles(const clgrad_context *ctx, size_t pm, size_t pn, int *tm, int *tn)
{
    const clgrad__gemm_state *s = clgrad__ctx_slot_find(ctx, &gemm_key);
    size_t mr = s ? (size_t)s->cpu.mr : 8, nr = s ? (size_t)(s->cpu.nv * s->cpu.vw) : 32;
    const clgrad__gemm_cpu_params none = {0};
    cl_int m, n;
    pick_tiles(ctx, s ? &s->cpu : &none, pm, pn, mr, nr, 1, &m, &n);
    *tm = m;
    *tn = n;
}

/* The whole-sequence launch's cost model: a launch per step costs about SEQ_LAUNCH_FLOPS of a
 * compute unit's time (PoCL: ~20 us between dependent launches at ~150 GFLOP/s per unit). */
#define SEQ_LAUNCH_FLOPS 3e6

int clgrad__gemm_cpu_whole_sequence(const clgrad_context *ctx, size_t row_panels, double step_flops)
{
    const clgrad__gemm_state *s = clgrad__ctx_slot_find(ctx, &gemm_key);
    if (s && s->seq_forced) return s->seq_forced == 1;
    double units = ctx->dev.info.compute_units > 0 ? (double)ctx->dev.info.compute_units : 1.0;
    double busy = (double)row_panels < units ? (double)row_panels : units;
    /* a step's time on the busy units against its time on all units plus a launch */
    return step_flops / busy <= step_flops / units + SEQ_LAUNCH_FLOPS;
}

clgrad_status clgrad__gemm_set_whole_sequence(clgrad_context *ctx, int mode)
{
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    if (mode < 0 || mode > 2) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "whole-sequence mode %d is not 0, 1 or 2", mode);
    s->seq_forced = mode;
    return CLGRAD_OK;
}

static clgrad_status check_args(clgrad_context *ctx, const clgrad__gemm_args *g)
{
    /* A and B are not read when K == 0, so their leading dimensions do not matter then */
    int ab_ok = g->k == 0 || (g->lda >= 1 && g->ldb >= 1 && g->lda <= INT_MAX && g->ldb <= INT_MAX);
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->k < 0 || !ab_ok || g->ldc < 1 || g->ldc > INT_MAX)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                            "matmul: GEMM %lldx%lldx%lld with leading dimensions %lld, %lld, %lld is outside the "
                            "supported range (1 .. 2^31-1)", (long long)g->m, (long long)g->n, (long long)g->k,
                            (long long)g->lda, (long long)g->ldb, (long long)g->ldc);
    if (g->batch > 1 && g->c_bstride == 0)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "matmul: a batch of %lld products cannot share one C",
                            (long long)g->batch);
    return CLGRAD_OK;
}

static clgrad_status gemm_pieces(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g);

clgrad_status clgrad__gemm_own(clgrad_context *ctx, const clgrad__gemm_args *g)
{
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0) return CLGRAD_OK;
    CLGRAD_TRY(check_args(ctx, g));
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    CLGRAD_TRY(clgrad__gemm_resolve(ctx, s));
    return gemm_pieces(ctx, s, g);
}

/* Our kernels (scale only when K == 0) on a checked product with resolved parameters. */
static clgrad_status gemm_pieces(clgrad_context *ctx, clgrad__gemm_state *s, const clgrad__gemm_args *g)
{
    /* Launches keep under 32768 work-groups (the fold limit) in NDRange dims 1 and 2 (NVIDIA allows 65535):
     * products with more rows (dim 1 of the tiled, scale and A-packing kernels), more columns
     * (dim 1 of the CPU kernels) or a bigger batch (dim 2) run in pieces. Every element of C
     * is computed exactly as in one launch, so the pieces change no bits. */
    const int64_t piece = (int64_t)clgrad__fold_limit(ctx);
    int64_t mstep = g->k == 0 ? piece : s->tiled ? piece * s->tp.ts_m : piece * s->cpu.mr;
    int64_t nstep = g->k == 0 || s->tiled ? g->n : piece * s->cpu.nv * s->cpu.vw;
    if (g->m <= mstep && g->n <= nstep && g->batch <= piece) {
        if (g->k == 0) {
            CLGRAD_TRY(gemm_scale(ctx, s, g));
            return gemm_epilogue(ctx, s, g);
        }
        return s->tiled ? gemm_tiled(ctx, s, g) : gemm_cpu(ctx, s, g);
    }
    for (int64_t b0 = 0; b0 < g->batch; b0 += piece)
        for (int64_t m0 = 0; m0 < g->m; m0 += mstep)
            for (int64_t n0 = 0; n0 < g->n; n0 += nstep) {
                clgrad__gemm_args q = *g;
                q.batch = g->batch - b0 < piece ? g->batch - b0 : piece;
                q.m = g->m - m0 < mstep ? g->m - m0 : mstep;
                q.n = g->n - n0 < nstep ? g->n - n0 : nstep;
                q.a_off += b0 * g->a_bstride + (g->trans_a ? m0 : m0 * g->lda);
                q.b_off += b0 * g->b_bstride + (g->trans_b ? n0 * g->ldb : n0);
                q.c_off += b0 * g->c_bstride + m0 * g->ldc + n0;
                q.bias_off += g->bias_mode == CLGRAD__GEMM_BIAS_COL ? n0 : g->bias_mode == CLGRAD__GEMM_BIAS_ROW ? m0 : 0;
                clgrad_status st = g->k == 0 ? gemm_scale(ctx, s, &q) : s->tiled ? gemm_tiled(ctx, s, &q)
                                                                                 : gemm_cpu(ctx, s, &q);
                if (st == CLGRAD_OK && g->k == 0) st = gemm_epilogue(ctx, s, &q);
                if (st != CLGRAD_OK) return st;
            }
    return CLGRAD_OK;
}

/* --- CLBlast ------------------------------------------------------------------------------ */

clgrad_status clgrad__gemm_clblast(clgrad_context *ctx, const clgrad__gemm_args *g)
{
#if CLGRAD_HAVE_CLBLAST
    if (ctx->flags & CLGRAD_CONTEXT_NO_CLBLAST)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "CLBlast is disabled for this context");
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0) return CLGRAD_OK;
    CLGRAD_TRY(check_args(ctx, g));
    if (g->k == 0) { /* CLBlast rejects an empty inner dimension */
        CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
        CLGRAD_TRY(clgrad__gemm_resolve(ctx, s));
        return gemm_pieces(ctx, s, g);
    }
    CLBlastStatusCode e;
    const double t0 = ctx->prof ? clgrad__now() : 0;
    cl_event ev = NULL, *evp = ctx->prof ? &ev : NULL;
    CLBlastTranspose ta = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    if (g->batch == 1)
        e = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k, g->alpha, g->a,
                         (size_t)g->a_off, (size_t)g->lda, g->b, (size_t)g->b_off, (size_t)g->ldb, g->beta, g->c,
                         (size_t)g->c_off, (size_t)g->ldc, &ctx->dev.queue, evp);
    else
        e = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k,
                                       g->alpha, g->a, (size_t)g->a_off, (size_t)g->lda, (size_t)g->a_bstride, g->b,
                                       (size_t)g->b_off, (size_t)g->ldb, (size_t)g->b_bstride, g->beta, g->c,
                                       (size_t)g->c_off, (size_t)g->ldc, (size_t)g->c_bstride, (size_t)g->batch,
                                       &ctx->dev.queue, evp);
    if (ctx->prof) clgrad__prof_launch(ctx, "clblast", g->batch == 1 ? "sgemm" : "sgemm_strided_batched", NULL,
                                       e == CLBlastSuccess ? ev : NULL, clgrad__now() - t0);
    if (e != CLBlastSuccess)
        return clgrad__fail(ctx, CLGRAD_ERR_OPENCL, "CLBlast sgemm %lldx%lldx%lld (batch %lld) failed with status %d",
                            (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch, (int)e);
    if (!epi_flags(g)) return CLGRAD_OK;
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    CLGRAD_TRY(clgrad__gemm_resolve(ctx, s));
    return gemm_epilogue(ctx, s, g); /* CLBlast has none of its own */
#else
    (void)g;
    return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "this build of clgrad has no CLBlast");
#endif
}

/* --- products with B packed once, for the fused epilogues --------------------------------- */

/* Rows k per work-item of matmul_pack_gates_f32: a 16 x MM_NR block of the panel (2 KiB for
 * 32 columns) stays in L1 while the source is read along its contiguous direction. */
#define PACK_GATES_KB 16

clgrad_status clgrad__gemm_pack_gates(clgrad_context *ctx, int trans_b, int64_t k, int64_t h, int g, cl_mem b,
                                      int64_t b_off, int64_t ldb, clgrad__buffer **out)
{
    *out = NULL;
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    CLGRAD_TRY(clgrad__gemm_resolve(ctx, s));
    const int nr = s->cpu.nv * s->cpu.vw, u = nr / g;
    if (s->tiled || g < 1 || nr % g != 0 || k < 1 || h < 1 || k > INT_MAX || h > INT_MAX || ldb > INT_MAX)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "matmul: no packed form for %lld x %d*%lld (panels of %d)",
                            (long long)k, g, (long long)h, nr);
    size_t panels = cdiv((size_t)h, (size_t)u);
    CLGRAD_TRY(clgrad__buffer_alloc(ctx, sizeof(float) * panels * (size_t)nr * (size_t)k, out));
    cl_int H = (cl_int)h, K = (cl_int)k, G = g, tb = trans_b ? 1 : 0, ld = (cl_int)ldb, kb = PACK_GATES_KB;
    cl_long off = b_off;
    size_t global[2] = {panels, cdiv((size_t)k, PACK_GATES_KB)};
    clgrad_status st = clgrad__launch(ctx, FAMILY, s->opts, "matmul_pack_gates_f32", 2, global, NULL,
                                      CLGRAD_ARGS(CLGRAD_KARG(H), CLGRAD_KARG(K), CLGRAD_KARG(G), CLGRAD_KARG(tb),
                                                  CLGRAD_KARG(b), CLGRAD_KARG(off), CLGRAD_KARG(ld), CLGRAD_KARG(kb),
                                                  CLGRAD_KARG((*out)->mem)));
    if (st != CLGRAD_OK) {
        clgrad__buffer_release(*out);
        *out = NULL;
    }
    return st;
}

clgrad_status clgrad__gemm_packed(clgrad_context *ctx, int trans_a, int64_t m, int64_t n, int64_t k, cl_mem a,
                                  int64_t a_off, int64_t lda, const clgrad__buffer *bp, cl_mem c, int64_t c_off,
                                  int64_t ldc)
{
    if (m <= 0 || n <= 0) return CLGRAD_OK;
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    const size_t mr = (size_t)s->cpu.mr, nr = (size_t)(s->cpu.nv * s->cpu.vw);
    cl_int M = (cl_int)m, N = (cl_int)n, K = (cl_int)k, kb = K < 256 ? K : 256, tm, tn, ld = (cl_int)ldc;
    cl_long oa = a_off, rs = trans_a ? 1 : lda, ks = trans_a ? lda : 1, oc = c_off;
    pick_tiles(ctx, &s->cpu, cdiv((size_t)m, mr), cdiv((size_t)n, nr), mr, nr, 1, &tm, &tn);
    size_t global[2] = {cdiv(cdiv((size_t)m, mr), (size_t)tm), cdiv(cdiv((size_t)n, nr), (size_t)tn)};
    return clgrad__launch(ctx, FAMILY, s->opts, "matmul_packed_f32", 2, global, one3,
                          CLGRAD_ARGS(CLGRAD_KARG(M), CLGRAD_KARG(N), CLGRAD_KARG(K), CLGRAD_KARG(kb),
                                      CLGRAD_KARG(tm), CLGRAD_KARG(tn), CLGRAD_KARG(a), CLGRAD_KARG(oa),
                                      CLGRAD_KARG(rs), CLGRAD_KARG(ks), CLGRAD_KARG(bp->mem), CLGRAD_KARG(c),
                                      CLGRAD_KARG(oc), CLGRAD_KARG(ld)));
}
