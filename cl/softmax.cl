/* Softmax and log-softmax along one axis, forward and backward, each as one fused kernel:
 * the host views a contiguous tensor as (O, L, I) with the axis of length L in the middle;
 * row q = o*I + i holds the elements base + r*I, base = o*L*I + i, r in [0, L).
 *
 * -D SMX_OP_<op> selects what a kernel computes; the host writes it from its enum
 * (src/ops/softmax.c), none given means softmax forward (a, b: inputs; out: result;
 * m: row max of a; s: the row sum below):
 *   SMX_OP_SOFTMAX          s = sum exp(a - m)     out = exp(a - m) / s
 *   SMX_OP_LOG_SOFTMAX      s = sum exp(a - m)     out = (a - m) - log(s)
 *   SMX_OP_SOFTMAX_BWD      s = sum a*b            out = a * (b - s)       (a = y, b = dy)
 *   SMX_OP_LOG_SOFTMAX_BWD  s = sum b              out = b - exp(a) * s    (a = y, b = dy)
 * Kernels test the two derived flags SMX_FWD and SMX_LOG.
 *
 * Fixed reduction order (the same for max and sum, in every kernel below, so results are
 * bit-identical run after run and do not depend on the work-group size or the kernel):
 * lane t (0 <= t < 64) combines elements t, t + 64, t + 128, ... of the row in increasing
 * order, starting from the identity; then p[t] = op(p[t], p[t + s]) for s = 32, 16, ..., 1.
 * This is the order of the reduction engine (cl/reduce.cl, RED_LANES 64, one chunk).
 *
 * Kernels: smx_row_item_f32 (I == 1: one work-item per row, float8 vectors; lane group k
 * of a block is one float8), smx_wg_f32 (one work-group of any size per row, lanes in local
 * memory), smx_col_f32 (one work-item per row of any I, lanes in private memory; adjacent
 * work-items read adjacent columns). Softmax forward stores exp(a - m) in out during the
 * sum pass and divides it in place in the last pass, so exp runs once per element. */

#pragma OPENCL FP_CONTRACT OFF

#ifndef SMX_VW
#define SMX_VW 8
#endif
#ifndef SMX_GATHER
#define SMX_GATHER 0
#endif
#define SMX_LANES 64
#define SMX_NV (SMX_LANES / SMX_VW) /* vectors per block of 64 lanes */
#if defined(SMX_OP_SOFTMAX_BWD) || defined(SMX_OP_LOG_SOFTMAX_BWD)
#define SMX_FWD 0
#else
#define SMX_FWD 1
#endif
#if defined(SMX_OP_LOG_SOFTMAX) || defined(SMX_OP_LOG_SOFTMAX_BWD)
#define SMX_LOG 1
#else
#define SMX_LOG 0
#endif

/* vectors of SMX_VW floats (1, 4, 8 or 16) */
#if SMX_VW == 1
typedef float smx_v;
typedef int smx_vi;
#define SMX_LOAD(p) (*(p))
#define SMX_STORE(v, p) (*(p) = (v))
#elif SMX_VW == 4
typedef float4 smx_v;
typedef int4 smx_vi;
#define SMX_LOAD(p) vload4(0, p)
#define SMX_STORE(v, p) vstore4(v, 0, p)
#elif SMX_VW == 8
typedef float8 smx_v;
typedef int8 smx_vi;
#define SMX_LOAD(p) vload8(0, p)
#define SMX_STORE(v, p) vstore8(v, 0, p)
#elif SMX_VW == 16
typedef float16 smx_v;
typedef int16 smx_vi;
#define SMX_LOAD(p) vload16(0, p)
#define SMX_STORE(v, p) vstore16(v, 0, p)
#else
#error "SMX_VW must be 1, 4, 8 or 16"
#endif

/* exp and log of scalars through the vector routines: compilers may round their scalar and
 * vector versions differently, and every kernel here must give the same bits */
static inline float smx_exp1(float x) { return exp((float4)(x)).x; }
static inline float smx_log1(float x) { return log((float4)(x)).x; }
#if SMX_VW == 1
#define SMX_VEXP smx_exp1
#define SMX_VLOG smx_log1
#else
#define SMX_VEXP exp
#define SMX_VLOG log
#endif

/* the summed term of an element (av from a, bv from b; EXP: the exp for their type) */
#if SMX_FWD
#define SMX_TERM(av, bv, EXP) EXP((av) - m)
#elif (!SMX_FWD && !SMX_LOG)
#define SMX_TERM(av, bv, EXP) ((av) * (bv))
#else
#define SMX_TERM(av, bv, EXP) (bv)
#endif

/* the output of an element (ev: the stored exp for softmax forward) */
#if (SMX_FWD && !SMX_LOG)
#define SMX_OUT(av, bv, ev, EXP) ((ev) / s)
#elif (SMX_FWD && SMX_LOG)
#define SMX_OUT(av, bv, ev, EXP) (((av) - m) - ls)
#elif (!SMX_FWD && !SMX_LOG)
#define SMX_OUT(av, bv, ev, EXP) ((av) * ((bv) - s))
#else
#define SMX_OUT(av, bv, ev, EXP) ((bv) - EXP(av) * s)
#endif

/* X(j, c) for every element j of a vector and its component name c */
#define SMX_C4(X) X(0, s0) X(1, s1) X(2, s2) X(3, s3)
#define SMX_C8(X) SMX_C4(X) X(4, s4) X(5, s5) X(6, s6) X(7, s7)
#define SMX_C16(X) SMX_C8(X) X(8, s8) X(9, s9) X(10, sa) X(11, sb) X(12, sc) X(13, sd) X(14, se) X(15, sf)
#if SMX_VW == 1
#define SMX_EACH(X) X(0, s0)
#define SMX_COMP(v, c) (v) /* a scalar is its only element */
#elif SMX_VW == 4
#define SMX_EACH SMX_C4
#define SMX_COMP(v, c) (v).c
#elif SMX_VW == 8
#define SMX_EACH SMX_C8
#define SMX_COMP(v, c) (v).c
#else
#define SMX_EACH SMX_C16
#define SMX_COMP(v, c) (v).c
#endif

/* the elements p[j * rs] for j < nc (fill beyond), as one vector; rs == 1 and nc == SMX_VW
 * is one vector load. Element by element otherwise, without private arrays (slow on some
 * CPU compilers). */
static inline smx_v smx_ldm(global const float *p, long rs, long nc, float fill)
{
    if (rs == 1 && nc >= SMX_VW) return SMX_LOAD(p);
    smx_v v = (smx_v)(fill);
#define SMX_X(j, c) if (j < nc) SMX_COMP(v, c) = p[j * rs];
    SMX_EACH(SMX_X)
#undef SMX_X
    return v;
}

static inline void smx_stm(global float *p, long rs, long nc, smx_v v)
{
    if (rs == 1 && nc >= SMX_VW) {
        SMX_STORE(v, p);
        return;
    }
#define SMX_X(j, c) if (j < nc) p[j * rs] = SMX_COMP(v, c);
    SMX_EACH(SMX_X)
#undef SMX_X
}

/* v with the elements j >= nc set to 0 */
static inline smx_v smx_keep(smx_v v, long nc)
{
    if (nc >= SMX_VW) return v;
#define SMX_X(j, c) if (j >= nc) SMX_COMP(v, c) = 0.0f;
    SMX_EACH(SMX_X)
#undef SMX_X
    return v;
}

/* p[i..i+SMX_VW) below n, fill beyond; stores likewise */
#define smx_ld(p, i, n, fill) smx_ldm((p) + (i), 1, (n) - (i), fill)
#define smx_st(p, i, n, v) smx_stm((p) + (i), 1, (n) - (i), v)

/* the fixed tree over 64 lanes held as a[k] = lanes k*SMX_VW .. k*SMX_VW + SMX_VW-1:
 * halving across vectors first (lane t meets t + h for h >= SMX_VW), then inside one.
 * Vectors whose lanes all lie at or past the row length n hold the identity, and
 * combining with the identity is exact, so they are skipped. */
#define SMX_TREE(name, COMB)                                                                    \
    static inline float name(smx_v *a, long n)                                                         \
    {                                                                                           \
        for (int h = SMX_NV / 2; h > 0; h >>= 1)                                                \
            for (int k = 0; k < h && (k + h) * SMX_VW < n; k++) a[k] = COMB(a[k], a[k + h]);    \
        return smx_in_##name(a[0]);                                                             \
    }

#if SMX_VW == 16
#define SMX_IN_TREE(name, COMB)                                                                 \
    static inline float smx_in_##name(float16 v)                                                       \
    {                                                                                           \
        float8 e = COMB(v.lo, v.hi);                                                            \
        float4 h = COMB(e.lo, e.hi);                                                            \
        float2 h2 = COMB(h.lo, h.hi);                                                           \
        return COMB(h2.x, h2.y);                                                                \
    }
#elif SMX_VW == 8
#define SMX_IN_TREE(name, COMB)                                                                 \
    static inline float smx_in_##name(float8 v)                                                        \
    {                                                                                           \
        float4 h = COMB(v.lo, v.hi);                                                            \
        float2 h2 = COMB(h.lo, h.hi);                                                           \
        return COMB(h2.x, h2.y);                                                                \
    }
#elif SMX_VW == 4
#define SMX_IN_TREE(name, COMB)                                                                 \
    static inline float smx_in_##name(float4 v)                                                        \
    {                                                                                           \
        float2 h2 = COMB(v.lo, v.hi);                                                           \
        return COMB(h2.x, h2.y);                                                                \
    }
#else
#define SMX_IN_TREE(name, COMB)                                                                 \
    static inline float smx_in_##name(float v) { return v; }
#endif

#define SMX_ADD(x, y) ((x) + (y))
SMX_IN_TREE(tree_max, fmax)
SMX_IN_TREE(tree_sum, SMX_ADD)
SMX_TREE(tree_max, fmax)
SMX_TREE(tree_sum, SMX_ADD)

/* smx_row_item_f32: one work-item per row of a contiguous (rows, L) view (I == 1); lanes
 * are vectors of SMX_VW (4, 8 or 16).
 * Args: out (contiguous, offset 0), a, aoff, b, boff (backward ops; else ignored), rows, L.
 * NDRange: 1-D >= rows, any work-group size. -D SMX_OP_<op>, SMX_VW. */
kernel void smx_row_item_f32(global float *out, global const float *a, long aoff, global const float *b, long boff,
                             long rows, long L)
{
    long q = get_global_id(0);
    if (q >= rows) return;
    global const float *pa = a + aoff + q * L;
#if !SMX_FWD
    global const float *pb = b + boff + q * L;
#endif
    global float *po = out + q * L;
    long nf = L - L % SMX_LANES; /* full blocks of 64 end here */
    smx_v acc[SMX_NV];
#if SMX_FWD
    for (int k = 0; k < SMX_NV; k++) acc[k] = (smx_v)(-INFINITY);
    for (long r0 = 0; r0 < nf; r0 += SMX_LANES)
        for (int k = 0; k < SMX_NV; k++) acc[k] = fmax(acc[k], SMX_LOAD(pa + r0 + SMX_VW * k));
    for (int k = 0; k < SMX_NV && nf + SMX_VW * k < L; k++)
        acc[k] = fmax(acc[k], smx_ld(pa, nf + SMX_VW * k, L, -INFINITY));
    float m = tree_max(acc, L);
#endif
    for (int k = 0; k < SMX_NV; k++) acc[k] = (smx_v)(0.0f);
    for (long r0 = 0; r0 < nf; r0 += SMX_LANES)
        for (int k = 0; k < SMX_NV; k++) {
            long r = r0 + SMX_VW * k;
            smx_v av = SMX_LOAD(pa + r);
#if SMX_FWD
            smx_v t = SMX_TERM(av, av, exp);
#if (SMX_FWD && !SMX_LOG)
            SMX_STORE(t, po + r);
#endif
#else
            smx_v bv = SMX_LOAD(pb + r);
            smx_v t = SMX_TERM(av, bv, exp);
#endif
            acc[k] = acc[k] + t;
        }
    for (int k = 0; k < SMX_NV && nf + SMX_VW * k < L; k++) {
        long r = nf + SMX_VW * k;
        smx_v av = smx_ld(pa, r, L, 0.0f);
#if SMX_FWD
        smx_v t = SMX_TERM(av, av, exp);
#if (SMX_FWD && !SMX_LOG)
        smx_st(po, r, L, t);
#endif
#else
        smx_v bv = smx_ld(pb, r, L, 0.0f);
        smx_v t = SMX_TERM(av, bv, exp);
#endif
        acc[k] = acc[k] + smx_keep(t, L - r); /* lanes past the row end keep the identity */
    }
    float s = tree_sum(acc, L);
#if (SMX_FWD && SMX_LOG)
    float ls = smx_log1(s);
#endif
    for (long r = 0; r < L; r += SMX_VW) {
#if (SMX_FWD && !SMX_LOG)
        smx_v ev = smx_ld(po, r, L, 0.0f);
        smx_st(po, r, L, SMX_OUT(ev, ev, ev, exp));
#elif (SMX_FWD && SMX_LOG)
        smx_v av = smx_ld(pa, r, L, 0.0f);
        smx_st(po, r, L, SMX_OUT(av, av, av, exp));
#else
        smx_v av = smx_ld(pa, r, L, 0.0f), bv = smx_ld(pb, r, L, 0.0f);
        smx_st(po, r, L, SMX_OUT(av, bv, av, exp));
#endif
    }
}

/* smx_wg_f32: one work-group per row q (group id), any work-group size: work-item w runs
 * lanes w, w + W, ... and the 64 lane results meet in lv.
 * Args: out (contiguous, offset 0), a, aoff, b, boff (backward ops), O, L, I,
 * lv (local, 64 floats).  NDRange: 1-D, O*I groups.  -D SMX_OP_<op>. */
kernel void smx_wg_f32(global float *out, global const float *a, long aoff, global const float *b, long boff, long O,
                       long L, long I, local float *lv)
{
    long q = get_group_id(0);
    if (q >= O * I) return; /* uniform across the group */
    int w = (int)get_local_id(0), W = (int)get_local_size(0);
    long base = (q / I) * L * I + q % I;
    global const float *pa = a + aoff + base;
#if !SMX_FWD
    global const float *pb = b + boff + base;
#endif
    global float *po = out + base;
#if SMX_FWD
    for (int t = w; t < SMX_LANES; t += W) {
        float acc = -INFINITY;
        for (long r = t; r < L; r += SMX_LANES) acc = fmax(acc, pa[r * I]);
        lv[t] = acc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = SMX_LANES / 2; h > 0; h >>= 1) {
        for (int t = w; t < h; t += W) lv[t] = fmax(lv[t], lv[t + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float m = lv[0];
    barrier(CLK_LOCAL_MEM_FENCE);
#endif
    for (int t = w; t < SMX_LANES; t += W) {
        float acc = 0.0f;
        for (long r = t; r < L; r += SMX_LANES) {
            float av = pa[r * I];
#if SMX_FWD
            float v = SMX_TERM(av, av, smx_exp1);
#if (SMX_FWD && !SMX_LOG)
            po[r * I] = v;
#endif
#else
            float v = SMX_TERM(av, pb[r * I], smx_exp1);
#endif
            acc = acc + v;
        }
        lv[t] = acc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = SMX_LANES / 2; h > 0; h >>= 1) {
        for (int t = w; t < h; t += W) lv[t] = lv[t] + lv[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float s = lv[0];
#if (SMX_FWD && SMX_LOG)
    float ls = smx_log1(s);
#endif
    /* each work-item rewrites only the lanes it wrote above */
    for (int t = w; t < SMX_LANES; t += W)
        for (long r = t; r < L; r += SMX_LANES) {
#if (SMX_FWD && !SMX_LOG)
            float ev = po[r * I];
            po[r * I] = SMX_OUT(ev, ev, ev, smx_exp1);
#elif (SMX_FWD && SMX_LOG)
            float av = pa[r * I];
            po[r * I] = SMX_OUT(av, av, av, smx_exp1);
#else
            float av = pa[r * I], bv = pb[r * I];
            po[r * I] = SMX_OUT(av, bv, av, smx_exp1);
#endif
        }
}

/* smx_col_f32: one work-item per SMX_VW rows at once, one row per vector element, the 64
 * lanes of each row in private memory as vectors.
 *   SMX_GATHER 0: rows q = o*I + i for SMX_VW adjacent i of one o (columns of the (L, I)
 *                 slab: adjacent work-items read adjacent columns); groups of I/SMX_VW
 *                 rounded up per o, the last one partial.
 *   SMX_GATHER 1: I == 1, SMX_VW consecutive rows of length L (short rows on CPUs).
 * Args: out (contiguous, offset 0), a, aoff, b, boff (backward ops), O, L, I.
 * NDRange: 1-D >= the number of groups, any work-group size.  -D SMX_OP_<op>, SMX_VW, SMX_GATHER. */
kernel void smx_col_f32(global float *out, global const float *a, long aoff, global const float *b, long boff, long O,
                        long L, long I)
{
    long q = get_global_id(0);
#if SMX_GATHER
    if (q >= (O + SMX_VW - 1) / SMX_VW) return;
    long base = q * SMX_VW * L, rs = L, es = 1;
    int nc = (int)min((long)SMX_VW, O - q * SMX_VW);
#else
    long ng = (I + SMX_VW - 1) / SMX_VW;
    if (q >= O * ng) return;
    long i0 = (q % ng) * SMX_VW;
    long base = (q / ng) * L * I + i0, rs = 1, es = I;
    int nc = (int)min((long)SMX_VW, I - i0);
#endif
    global const float *pa = a + aoff + base;
#if !SMX_FWD
    global const float *pb = b + boff + base;
#endif
    global float *po = out + base;
    smx_v p[SMX_LANES];
#if SMX_FWD
    for (int t = 0; t < SMX_LANES; t++) p[t] = (smx_v)(-INFINITY);
    for (long r0 = 0; r0 < L; r0 += SMX_LANES)
        for (int t = 0; t < SMX_LANES && r0 + t < L; t++) p[t] = fmax(p[t], smx_ldm(pa + (r0 + t) * es, rs, nc, 0.0f));
    /* lanes never reached hold the identity: skipping them changes no bit */
    for (int h = SMX_LANES / 2; h > 0; h >>= 1)
        for (int t = 0; t < h && t + h < L; t++) p[t] = fmax(p[t], p[t + h]);
    smx_v m = p[0];
#endif
    for (int t = 0; t < SMX_LANES; t++) p[t] = (smx_v)(0.0f);
    for (long r0 = 0; r0 < L; r0 += SMX_LANES)
        for (int t = 0; t < SMX_LANES && r0 + t < L; t++) {
            long e = (r0 + t) * es;
            smx_v av = smx_ldm(pa + e, rs, nc, 0.0f);
#if SMX_FWD
            smx_v v = SMX_TERM(av, av, SMX_VEXP);
#if (SMX_FWD && !SMX_LOG)
            smx_stm(po + e, rs, nc, v);
#endif
#else
            smx_v v = SMX_TERM(av, smx_ldm(pb + e, rs, nc, 0.0f), SMX_VEXP);
#endif
            p[t] = p[t] + v;
        }
    for (int h = SMX_LANES / 2; h > 0; h >>= 1)
        for (int t = 0; t < h && t + h < L; t++) p[t] = p[t] + p[t + h];
    smx_v s = p[0];
#if (SMX_FWD && SMX_LOG)
    smx_v ls = SMX_VLOG(s);
#endif
    for (long r = 0; r < L; r++) {
        long e = r * es;
#if (SMX_FWD && !SMX_LOG)
        smx_v ev = smx_ldm(po + e, rs, nc, 0.0f);
        smx_stm(po + e, rs, nc, SMX_OUT(ev, ev, ev, SMX_VEXP));
#elif (SMX_FWD && SMX_LOG)
        smx_v av = smx_ldm(pa + e, rs, nc, 0.0f);
        smx_stm(po + e, rs, nc, SMX_OUT(av, av, av, SMX_VEXP));
#else
        smx_v av = smx_ldm(pa + e, rs, nc, 0.0f), bv = smx_ldm(pb + e, rs, nc, 0.0f);
        smx_stm(po + e, rs, nc, SMX_OUT(av, bv, av, SMX_VEXP));
#endif
    }
}
