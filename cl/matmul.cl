/* Batched single-precision GEMM:
 *
 *     C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]        b = 0 .. batch-1
 *
 * All matrices are row-major. op(A) is M x K, op(B) is K x N, C is M x N, and
 * op(X) is X or its transpose (trans_a / trans_b = 0 or 1 at run time). Every
 * matrix has its own element offset, leading dimension and batch stride, all
 * counted in floats. beta == 0 means C is only written, never read, so it may
 * hold NaN or garbage. Any M, N, K >= 1 works; nothing has to be a multiple of
 * a tile size.
 *
 * Two variants, chosen by build options:
 *
 *   MM_VARIANT_CPU    matmul_pack_a_f32, matmul_pack_b_f32, matmul_cpu_f32.
 *                     For devices without dedicated local memory (CPUs through
 *                     PoCL and the like). The operands are first copied into
 *                     zero-padded panels (transposes, odd leading dimensions
 *                     and edges are settled there), then a register-blocked,
 *                     vectorised kernel with work-group size 1 runs over the
 *                     panels. No local memory, no barriers.
 *   MM_VARIANT_TILED  matmul_tiled_f32. Local-memory tiles, several outputs per
 *                     work-item, barriers. For GPUs (CL_LOCAL local memory).
 *
 * With neither defined both variants are compiled, with their defaults.
 * Every tunable is a -D value with a default below; the host checks the
 * limits (work-group size, local memory) before picking values.
 */

#if !defined(MM_VARIANT_CPU) && !defined(MM_VARIANT_TILED)
#define MM_VARIANT_CPU
#define MM_VARIANT_TILED
#endif

#define MM_CAT_(a, b) a##b
#define MM_CAT(a, b) MM_CAT_(a, b)

/* Multiply-add used by the inner loops. fma() is a single instruction on
 * CPUs with FMA and on every current GPU; MM_USE_MAD switches to mad(), which
 * lets the compiler pick the fastest (possibly less accurate) form. */
#ifdef MM_USE_MAD
#define MM_FMA(a, b, c) mad((a), (b), (c))
#else
#define MM_FMA(a, b, c) fma((a), (b), (c))
#endif

/* matmul_scale_f32: C[b] = beta * C[b], the whole product when K == 0 (an empty sum).
 * beta == 0 writes zeros without reading C (it may hold NaN). Built with either variant.
 * Arguments: M, N, beta, c, off_c, ldc, stride_c (C[b](i,j) = c[off_c + b*stride_c + i*ldc + j])
 * NDRange: global (N, M, batch), rounded up to any local size (bounds are checked). */
__kernel void matmul_scale_f32(const int M, const int N, const float beta, __global float *c,
                               const long off_c, const int ldc, const long stride_c)
{
    const int j = (int)get_global_id(0), i = (int)get_global_id(1);
    if (i >= M || j >= N)
        return;
    __global float *cp = c + off_c + (long)get_global_id(2) * stride_c + (long)i * ldc + j;
    *cp = beta == 0.0f ? 0.0f : beta * *cp;
}

/* ------------------------------------------------------------------------ */
/* CPU variant: packing kernels plus a register-blocked compute kernel.     */
/* ------------------------------------------------------------------------ */
#ifdef MM_VARIANT_CPU

/* Micro-tile of C computed in registers: MM_MR rows x (MM_NV * MM_VW) columns,
 * kept as MM_MR * MM_NV vectors of MM_VW floats. MM_VW is 4, 8 or 16. */
#ifndef MM_MR
#define MM_MR 8
#endif
#ifndef MM_VW
#define MM_VW 16
#endif
#ifndef MM_NV
#define MM_NV 2
#endif
/* k values copied by one work-item of a packing kernel. */
#ifndef MM_PACK_K
#define MM_PACK_K 64
#endif

#define MM_NR (MM_NV * MM_VW)
#define MM_PACK_WMAX (MM_MR > MM_NR ? MM_MR : MM_NR)
#define MM_VEC MM_CAT(float, MM_VW)
#define MM_VLOAD MM_CAT(vload, MM_VW)
#define MM_VSTORE MM_CAT(vstore, MM_VW)

#ifdef MM_REQD_WGS
#define MM_CPU_WGS __attribute__((reqd_work_group_size(1, 1, 1)))
#else
#define MM_CPU_WGS
#endif

/* Packed layout shared by both packing kernels. A matrix of R rows by K
 * (rows of op(A), or columns of op(B)) becomes ceil(R / W) panels of W rows;
 * panel p holds its K x W block k-major, element (p*W + w, k) at
 *     dst[b * dst_batch + p * K * W + k * W + w],
 * and rows past R are zero. Element (r, k) of the source is
 *     src[off + b * batch + r * rs + k * ks].
 * A work-item copies panels y*ppi .. y*ppi + ppi - 1 (ppi = panels per item),
 * k from x*MM_PACK_K to x*MM_PACK_K + MM_PACK_K - 1. */
static inline void mm_pack_panel(const int rows, const int K, const int W, const int ppi,
                          __global const float *restrict src, const long off,
                          const long rs, const long ks, const long batch,
                          __global float *restrict dst, const long dst_batch)
{
    const int k0 = (int)get_global_id(0) * MM_PACK_K;
    const int k1 = min(K, k0 + MM_PACK_K);
    const long b = (long)get_global_id(2);
    const int np = (rows + W - 1) / W;
    const int pbeg = (int)get_global_id(1) * ppi;
    const int pend = min(np, pbeg + ppi);

    for (int p = pbeg; p < pend; p++) {
        const int r0 = p * W;
        __global const float *s = src + off + b * batch + (long)r0 * rs;
        __global float *d = dst + b * dst_batch + (long)p * K * W;
        int k = k0;
        if (r0 + W <= rows && ks == 1) {
            /* Rows contiguous in k: read 8 k of every row as one vector,
             * transpose through a private block, write 8*W floats in one run. */
            for (; k + 8 <= k1; k += 8) {
                float blk[8 * MM_PACK_WMAX];
                for (int w = 0; w < W; w++) {
                    const float8 v = vload8(0, s + (long)w * rs + k);
                    blk[0 * W + w] = v.s0; blk[1 * W + w] = v.s1;
                    blk[2 * W + w] = v.s2; blk[3 * W + w] = v.s3;
                    blk[4 * W + w] = v.s4; blk[5 * W + w] = v.s5;
                    blk[6 * W + w] = v.s6; blk[7 * W + w] = v.s7;
                }
                __global float *dk = d + (long)k * W;
                for (int i = 0; i < 8 * W; i += 8)
                    vstore8(vload8(0, blk + i), 0, dk + i);
            }
        }
        if (r0 + W <= rows) {
            for (; k < k1; k++)
                for (int w = 0; w < W; w++)
                    d[(long)k * W + w] = s[(long)w * rs + (long)k * ks];
        } else {
            const int live = rows - r0;
            for (; k < k1; k++)
                for (int w = 0; w < W; w++)
                    d[(long)k * W + w] = w < live ? s[(long)w * rs + (long)k * ks] : 0.0f;
        }
    }
}

/* matmul_pack_a_f32: copies op(A[b]) into MM_MR-row panels (layout above).
 * Arguments:
 *   M, K            op(A) is M x K
 *   ppi             panels per work-item (>= 1)
 *   trans_a         0: op(A[b])(i,k) = a[off_a + b*stride_a + i*lda + k]
 *                   1: op(A[b])(i,k) = a[off_a + b*stride_a + k*lda + i]
 *                   (to pack only the k range [k0, k0+K) of a longer product, advance
 *                   off_a by k0 (trans_a = 0) or k0*lda (trans_a = 1) and pass K = range)
 *   a, off_a, lda, stride_a   source buffer, element offset, leading dim, batch stride
 *   ap, stride_ap   destination, batch stride (>= ceil(M/MM_MR) * MM_MR * K)
 * NDRange: global (ceil(K / MM_PACK_K), ceil(ceil(M / MM_MR) / ppi), batch), local (1, 1, 1).
 * -D: MM_MR, MM_PACK_K (must match the matmul_cpu_f32 build). */
__kernel MM_CPU_WGS void matmul_pack_a_f32(const int M, const int K, const int ppi,
                                           const int trans_a, __global const float *restrict a, const long off_a,
                                           const int lda, const long stride_a,
                                           __global float *restrict ap, const long stride_ap)
{
    mm_pack_panel(M, K, MM_MR, ppi, a, off_a, trans_a ? 1 : (long)lda, trans_a ? (long)lda : 1,
                  stride_a, ap, stride_ap);
}

/* matmul_pack_b_f32: copies op(B[b]) into panels of MM_NR = MM_NV*MM_VW
 * columns (layout above, with the columns of op(B) as rows).
 * Arguments:
 *   N, K            op(B) is K x N
 *   ppi             panels per work-item (>= 1)
 *   trans_b         0: op(B[b])(k,j) = b[off_b + b*stride_b + k*ldb + j]
 *                   1: op(B[b])(k,j) = b[off_b + b*stride_b + j*ldb + k]
 *                   (k range: advance off_b by k0*ldb (trans_b = 0) or k0 (trans_b = 1))
 *   b, off_b, ldb, stride_b   source buffer, element offset, leading dim, batch stride
 *   bp, stride_bp   destination, batch stride (>= ceil(N/MM_NR) * MM_NR * K)
 * NDRange: global (ceil(K / MM_PACK_K), ceil(ceil(N / MM_NR) / ppi), batch), local (1, 1, 1).
 * -D: MM_VW, MM_NV, MM_PACK_K (must match the matmul_cpu_f32 build). */
__kernel MM_CPU_WGS void matmul_pack_b_f32(const int N, const int K, const int ppi,
                                           const int trans_b, __global const float *restrict b, const long off_b,
                                           const int ldb, const long stride_b,
                                           __global float *restrict bp, const long stride_bp)
{
    mm_pack_panel(N, K, MM_NR, ppi, b, off_b, trans_b ? (long)ldb : 1, trans_b ? 1 : (long)ldb,
                  stride_b, bp, stride_bp);
}

/* matmul_cpu_f32: C = alpha * Ap * Bp + beta * C over packed panels.
 * Work-item (x, y, b) owns tiles_m x tiles_n micro-tiles of MM_MR x MM_NR:
 * row panels x*tiles_m .. x*tiles_m + tiles_m - 1 and column panels
 * y*tiles_n .. y*tiles_n + tiles_n - 1 (clipped to the matrix). It walks K in
 * blocks of kblock so one B micro-panel (kblock x MM_NR) stays in L1 while the
 * row panels of its block pass over it; C is read (beta) on the first block
 * and accumulated on the later ones.
 * Arguments:
 *   M, N, K         C is M x N; K = length of the k range handled by this launch
 *   kblock          k values per cache block (1..K; K = no blocking)
 *   tiles_m, tiles_n  micro-tiles per work-item in each direction (>= 1)
 *   alpha, beta     beta == 0: C is not read
 *   ap, off_ap, panel_ap, stride_ap   packed A: element (k, i) of this launch's range is
 *                   ap[off_ap + b*stride_ap + (i/MM_MR)*panel_ap + k*MM_MR + i%MM_MR]
 *                   (for a whole-K pack: off_ap = k0*MM_MR, panel_ap = Kfull*MM_MR)
 *   bp, off_bp, panel_bp, stride_bp   packed B, same with MM_NR; stride_bp = 0 when one
 *                   packed B serves the whole batch (B with batch stride 0)
 *   c, off_c, ldc, stride_c           C[b](i,j) = c[off_c + b*stride_c + i*ldc + j]
 * NDRange: global (ceil(ceil(M/MM_MR) / tiles_m), ceil(ceil(N/MM_NR) / tiles_n), batch),
 *          local (1, 1, 1).
 * -D: MM_MR, MM_VW, MM_NV; MM_REQD_WGS adds reqd_work_group_size(1,1,1). */
__kernel MM_CPU_WGS void matmul_cpu_f32(const int M, const int N, const int K, const int kblock,
                                        const int tiles_m, const int tiles_n,
                                        const float alpha, const float beta,
                                        __global const float *restrict ap, const long off_ap,
                                        const long panel_ap, const long stride_ap,
                                        __global const float *restrict bp, const long off_bp,
                                        const long panel_bp, const long stride_bp,
                                        __global float *restrict c, const long off_c,
                                        const int ldc, const long stride_c)
{
    const long b = (long)get_global_id(2);
    const int pm = (M + MM_MR - 1) / MM_MR;
    const int pn = (N + MM_NR - 1) / MM_NR;
    const int p0 = (int)get_global_id(0) * tiles_m;
    const int q0 = (int)get_global_id(1) * tiles_n;
    const int p1 = min(pm, p0 + tiles_m);
    const int q1 = min(pn, q0 + tiles_n);
    __global const float *abase = ap + off_ap + b * stride_ap;
    __global const float *bbase = bp + off_bp + b * stride_bp;
    __global float *cbase = c + off_c + b * stride_c;

    for (int k0 = 0; k0 < K; k0 += kblock) {
        const int kl = min(kblock, K - k0);
        const float be = k0 == 0 ? beta : 1.0f;
        for (int q = q0; q < q1; q++) {
            __global const float *bq = bbase + (long)q * panel_bp + (long)k0 * MM_NR;
            for (int p = p0; p < p1; p++) {
                __global const float *apn = abase + (long)p * panel_ap + (long)k0 * MM_MR;
                MM_VEC acc[MM_MR][MM_NV];
#pragma unroll
                for (int r = 0; r < MM_MR; r++)
#pragma unroll
                    for (int v = 0; v < MM_NV; v++)
                        acc[r][v] = (MM_VEC)(0.0f);

                for (int k = 0; k < kl; k++) {
                    MM_VEC bv[MM_NV];
#pragma unroll
                    for (int v = 0; v < MM_NV; v++)
                        bv[v] = MM_VLOAD(0, bq + k * MM_NR + v * MM_VW);
#pragma unroll
                    for (int r = 0; r < MM_MR; r++) {
                        const MM_VEC av = (MM_VEC)(apn[k * MM_MR + r]);
#pragma unroll
                        for (int v = 0; v < MM_NV; v++)
                            acc[r][v] = MM_FMA(av, bv[v], acc[r][v]);
                    }
                }

                const int i0 = p * MM_MR;
                const int j0 = q * MM_NR;
                __global float *ct = cbase + (long)i0 * ldc + j0;
                if (i0 + MM_MR <= M && j0 + MM_NR <= N) {
#pragma unroll
                    for (int r = 0; r < MM_MR; r++)
#pragma unroll
                        for (int v = 0; v < MM_NV; v++) {
                            __global float *cp = ct + (long)r * ldc + v * MM_VW;
                            MM_VEC y = alpha * acc[r][v];
                            if (be != 0.0f)
                                y = MM_FMA((MM_VEC)(be), MM_VLOAD(0, cp), y);
                            MM_VSTORE(y, 0, cp);
                        }
                } else {
                    const int mr = min(MM_MR, M - i0);
                    const int nr = min(MM_NR, N - j0);
                    for (int r = 0; r < mr; r++) {
                        float row[MM_NR];
#pragma unroll
                        for (int v = 0; v < MM_NV; v++)
                            MM_VSTORE(acc[r][v], 0, row + v * MM_VW);
                        __global float *cp = ct + (long)r * ldc;
                        for (int j = 0; j < nr; j++) {
                            float y = alpha * row[j];
                            if (be != 0.0f)
                                y = MM_FMA(be, cp[j], y);
                            cp[j] = y;
                        }
                    }
                }
            }
        }
    }
}

#endif /* MM_VARIANT_CPU */

/* ------------------------------------------------------------------------ */
/* GPU variant: local-memory tiles, WPT_M x WPT_N outputs per work-item.    */
/* ------------------------------------------------------------------------ */
#ifdef MM_VARIANT_TILED

/* A work-group computes an MM_TS_M x MM_TS_N tile of C, stepping through K
 * MM_TS_K at a time. Each work-item owns MM_WPT_M x MM_WPT_N outputs, so the
 * work-group is (MM_TS_N / MM_WPT_N) x (MM_TS_M / MM_WPT_M) work-items.
 * MM_TS_M must be a multiple of MM_WPT_M and MM_TS_N of MM_WPT_N; MM_PAD adds
 * that many floats to each local row to avoid bank conflicts. */
#ifndef MM_TS_M
#define MM_TS_M 64
#endif
#ifndef MM_TS_N
#define MM_TS_N 64
#endif
#ifndef MM_TS_K
#define MM_TS_K 16
#endif
#ifndef MM_WPT_M
#define MM_WPT_M 4
#endif
#ifndef MM_WPT_N
#define MM_WPT_N 4
#endif
#ifndef MM_PAD
#define MM_PAD 1
#endif

#define MM_RT_M (MM_TS_M / MM_WPT_M)
#define MM_RT_N (MM_TS_N / MM_WPT_N)

#ifdef MM_REQD_WGS
#define MM_TILED_WGS __attribute__((reqd_work_group_size(MM_RT_N, MM_RT_M, 1)))
#else
#define MM_TILED_WGS
#endif

/* matmul_tiled_f32: C = alpha * op(A) * op(B) + beta * C, straight from the
 * caller's buffers (no packing).
 * Arguments:
 *   M, N, K, alpha, beta   as in the file header; beta == 0: C is not read
 *   trans_a, a, off_a, lda, stride_a   0: A[b](i,k) = a[off_a + b*stride_a + i*lda + k]
 *                                      1: A[b](i,k) = a[off_a + b*stride_a + k*lda + i]
 *   trans_b, b, off_b, ldb, stride_b   0: B[b](k,j) = b[off_b + b*stride_b + k*ldb + j]
 *                                      1: B[b](k,j) = b[off_b + b*stride_b + j*ldb + k]
 *   c, off_c, ldc, stride_c            C[b](i,j) = c[off_c + b*stride_c + i*ldc + j]
 * NDRange: global (ceil(N / MM_TS_N) * MM_RT_N, ceil(M / MM_TS_M) * MM_RT_M, batch),
 *          local (MM_RT_N, MM_RT_M, 1), where MM_RT_N = MM_TS_N / MM_WPT_N and
 *          MM_RT_M = MM_TS_M / MM_WPT_M. Needs MM_RT_N * MM_RT_M <=
 *          CL_KERNEL_WORK_GROUP_SIZE and MM_TS_K * (MM_TS_M + MM_TS_N + 2*MM_PAD) * 4
 *          bytes of local memory.
 * -D: MM_TS_M, MM_TS_N, MM_TS_K, MM_WPT_M, MM_WPT_N, MM_PAD; MM_REQD_WGS adds
 *     reqd_work_group_size(MM_RT_N, MM_RT_M, 1). */
__kernel MM_TILED_WGS void matmul_tiled_f32(const int M, const int N, const int K,
                                            const float alpha, const float beta,
                                            const int trans_a, __global const float *restrict a,
                                            const long off_a, const int lda, const long stride_a,
                                            const int trans_b, __global const float *restrict b,
                                            const long off_b, const int ldb, const long stride_b,
                                            __global float *restrict c, const long off_c,
                                            const int ldc, const long stride_c)
{
    __local float as[MM_TS_K][MM_TS_M + MM_PAD];
    __local float bs[MM_TS_K][MM_TS_N + MM_PAD];

    const int tx = (int)get_local_id(0); /* along N */
    const int ty = (int)get_local_id(1); /* along M */
    const int tid = ty * MM_RT_N + tx;
    const int nthreads = MM_RT_N * MM_RT_M;
    const int j0 = (int)get_group_id(0) * MM_TS_N;
    const int i0 = (int)get_group_id(1) * MM_TS_M;
    const long bi = (long)get_global_id(2);
    __global const float *ab = a + off_a + bi * stride_a;
    __global const float *bb = b + off_b + bi * stride_b;

    float acc[MM_WPT_M][MM_WPT_N];
#pragma unroll
    for (int wm = 0; wm < MM_WPT_M; wm++)
#pragma unroll
        for (int wn = 0; wn < MM_WPT_N; wn++)
            acc[wm][wn] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += MM_TS_K) {
        /* Consecutive work-items read consecutive addresses in both layouts. */
        for (int l = tid; l < MM_TS_K * MM_TS_M; l += nthreads) {
            int ii, kk;
            if (trans_a) { ii = l % MM_TS_M; kk = l / MM_TS_M; }
            else         { kk = l % MM_TS_K; ii = l / MM_TS_K; }
            const int i = i0 + ii, k = k0 + kk;
            float v = 0.0f;
            if (i < M && k < K)
                v = ab[trans_a ? (long)k * lda + i : (long)i * lda + k];
            as[kk][ii] = v;
        }
        for (int l = tid; l < MM_TS_K * MM_TS_N; l += nthreads) {
            int jj, kk;
            if (trans_b) { kk = l % MM_TS_K; jj = l / MM_TS_K; }
            else         { jj = l % MM_TS_N; kk = l / MM_TS_N; }
            const int j = j0 + jj, k = k0 + kk;
            float v = 0.0f;
            if (j < N && k < K)
                v = bb[trans_b ? (long)j * ldb + k : (long)k * ldb + j];
            bs[kk][jj] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

#pragma unroll
        for (int kk = 0; kk < MM_TS_K; kk++) {
            float av[MM_WPT_M], bv[MM_WPT_N];
#pragma unroll
            for (int wm = 0; wm < MM_WPT_M; wm++)
                av[wm] = as[kk][ty + wm * MM_RT_M];
#pragma unroll
            for (int wn = 0; wn < MM_WPT_N; wn++)
                bv[wn] = bs[kk][tx + wn * MM_RT_N];
#pragma unroll
            for (int wm = 0; wm < MM_WPT_M; wm++)
#pragma unroll
                for (int wn = 0; wn < MM_WPT_N; wn++)
                    acc[wm][wn] = MM_FMA(av[wm], bv[wn], acc[wm][wn]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    __global float *cb = c + off_c + bi * stride_c;
#pragma unroll
    for (int wm = 0; wm < MM_WPT_M; wm++) {
        const int i = i0 + ty + wm * MM_RT_M;
#pragma unroll
        for (int wn = 0; wn < MM_WPT_N; wn++) {
            const int j = j0 + tx + wn * MM_RT_N;
            if (i < M && j < N) {
                __global float *cp = cb + (long)i * ldc + j;
                float y = alpha * acc[wm][wn];
                if (beta != 0.0f)
                    y = MM_FMA(beta, *cp, y);
                *cp = y;
            }
        }
    }
}

#endif /* MM_VARIANT_TILED */
