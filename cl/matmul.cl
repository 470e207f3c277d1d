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
 *   MM_VARIANT_CPU    matmul_pack_b_f32, matmul_cpu_f32.
 *                     For devices without dedicated local memory (CPUs through
 *                     PoCL and the like). B is first copied into zero-padded
 *                     panels (transposes, odd leading dimensions and edges are
 *                     settled there), then a register-blocked, vectorised
 *                     kernel with work-group size 1 reads A in place (a row
 *                     panel of A is a few rows, or one block of contiguous
 *                     floats per k when transposed, either way in L1) and the
 *                     panels of B. No local memory, no barriers.
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

/* The fused epilogue of a product, applied once to each finished element of C (the last k
 * block of the last launch): epi bit MM_EPI_BIAS_COL adds bias[off + j], MM_EPI_BIAS_ROW
 * bias[off + i], MM_EPI_RELU then keeps max(v, 0) as relu_fwd_f32 does (NaN stays NaN).
 * The same operations, in the same order, as the product followed by the bias add and the
 * relu kernels. */
#define MM_EPI_BIAS_COL 1
#define MM_EPI_BIAS_ROW 2
#define MM_EPI_RELU 4
/* Not an epilogue but a layout, passed with it on every k block (CPU variant): C is stored
 * transposed, element (i, j) at c[j * ldc + i]. */
#define MM_EPI_CT 8

static inline float mm_epi(float v, const int epi, __global const float *bias, const long off_bias, const int i,
                           const int j)
{
    if (epi & MM_EPI_BIAS_COL)
        v += bias[off_bias + j];
    if (epi & MM_EPI_BIAS_ROW)
        v += bias[off_bias + i];
    if (epi & MM_EPI_RELU)
        v = v < 0.0f ? 0.0f : v;
    return v;
}

/* matmul_epilogue_f32: the fused epilogue on a finished C, for products that ran without it
 * (CLBlast, K == 0). Arguments: M, N, c, off_c, ldc, stride_c, bias, off_bias, epi.
 * NDRange: global (N, M, batch), any local size (bounds are checked). */
__kernel void matmul_epilogue_f32(const int M, const int N, __global float *c, const long off_c, const int ldc,
                                  const long stride_c, __global const float *bias, const long off_bias,
                                  const int epi)
{
    const int j = (int)get_global_id(0), i = (int)get_global_id(1);
    if (i >= M || j >= N)
        return;
    __global float *cp = c + off_c + (long)get_global_id(2) * stride_c + (long)i * ldc + j;
    *cp = mm_epi(*cp, epi, bias, off_bias, i, j);
}

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

/* Packed layout of the packing kernel. A matrix of R rows by K (the columns of op(B))
 * becomes ceil(R / W) panels of W rows;
 * panel p holds its K x W block k-major, element (p*W + w, k) at
 *     dst[b * dst_batch + p * K * W + k * W + w],
 * and rows past R are zero. Element (r, k) of the source is
 *     src[off + b * batch + r * rs + k * ks].
 * A work-item copies panels y*ppi .. y*ppi + ppi - 1 (ppi = panels per item),
 * k from x*MM_PACK_K to x*MM_PACK_K + MM_PACK_K - 1. */
static inline void mm_pack_panel(const int rows, const int K, const int W, const int ppi,
                          __global const float *src, const long off,
                          const long rs, const long ks, const long batch,
                          __global float *dst, const long dst_batch)
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

/* Writes a micro-tile: C(i0 + r, j0 + j) = alpha * acc + be * C (be == 0: C not read), then
 * the epilogue epi (0: none). */
static inline void mm_cpu_store(MM_VEC acc[MM_MR][MM_NV], const float alpha, const float be,
                                __global float *cbase, const int ldc, const int i0, const int j0,
                                const int M, const int N, const int epi, __global const float *bias,
                                const long off_bias)
{
    if (epi & MM_EPI_CT) {
        /* C stored transposed: the tile goes out column by column, each a run of MM_MR */
        const int mr = min(MM_MR, M - i0);
        const int nr = min(MM_NR, N - j0);
        float tile[MM_MR][MM_NR];
#pragma unroll
        for (int r = 0; r < MM_MR; r++)
#pragma unroll
            for (int v = 0; v < MM_NV; v++)
                MM_VSTORE(acc[r][v], 0, tile[r] + v * MM_VW);
        for (int j = 0; j < nr; j++) {
            __global float *cp = cbase + (long)(j0 + j) * ldc + i0;
            for (int r = 0; r < mr; r++) {
                float y = alpha * tile[r][j];
                if (be != 0.0f)
                    y = MM_FMA(be, cp[r], y);
                cp[r] = epi != MM_EPI_CT ? mm_epi(y, epi, bias, off_bias, i0 + r, j0 + j) : y;
            }
        }
        return;
    }
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
                if (epi) {
                    if (epi & MM_EPI_BIAS_COL)
                        y += MM_VLOAD(0, bias + off_bias + j0 + v * MM_VW);
                    if (epi & MM_EPI_BIAS_ROW)
                        y += (MM_VEC)(bias[off_bias + i0 + r]);
                    if (epi & MM_EPI_RELU)
                        y = CLGRAD_RELU(MM_VEC, y);
                }
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
                cp[j] = epi ? mm_epi(y, epi, bias, off_bias, i0 + r, j0 + j) : y;
            }
        }
    }
}

/* The k loop of one micro-tile: acc = sum over k < kl of A(r, k) * Bp(k, :), in k order,
 * A row r read at arow[r] + k*ks, B from the micro-panel bq, row k at bq + k*bks (MM_NR when
 * packed, B's row stride when read in place). */
static inline void mm_cpu_tile(MM_VEC acc[MM_MR][MM_NV], __global const float *arow[MM_MR], const long ks,
                               __global const float *bq, const long bks, const int kl)
{
#pragma unroll
    for (int r = 0; r < MM_MR; r++)
#pragma unroll
        for (int v = 0; v < MM_NV; v++)
            acc[r][v] = (MM_VEC)(0.0f);
    for (int k = 0; k < kl; k++) {
        MM_VEC bv[MM_NV];
#pragma unroll
        for (int v = 0; v < MM_NV; v++)
            bv[v] = MM_VLOAD(0, bq + k * bks + v * MM_VW);
        const long ko = (long)k * ks;
#pragma unroll
        for (int r = 0; r < MM_MR; r++) {
            const MM_VEC av = (MM_VEC)(arow[r][ko]);
#pragma unroll
            for (int v = 0; v < MM_NV; v++)
                acc[r][v] = MM_FMA(av, bv[v], acc[r][v]);
        }
    }
}

/* The whole k range of one micro-tile over a packed micro-panel (K x MM_NR, k-major), A's
 * rows contiguous in k (arow advanced in place): one block of kblock k values after another,
 * each block's partial sums added to the total as matmul_cpu_f32 adds them to C. */
static inline void mm_cpu_tile_blocks(MM_VEC acc[MM_MR][MM_NV], __global const float *arow[MM_MR],
                                      __global const float *panel, const int K, const int kblock)
{
    mm_cpu_tile(acc, arow, 1, panel, MM_NR, min(kblock, K));
    for (int k0 = kblock; k0 < K; k0 += kblock) {
#pragma unroll
        for (int r = 0; r < MM_MR; r++)
            arow[r] += kblock;
        MM_VEC part[MM_MR][MM_NV];
        mm_cpu_tile(part, arow, 1, panel + (long)k0 * MM_NR, MM_NR, min(kblock, K - k0));
#pragma unroll
        for (int r = 0; r < MM_MR; r++)
#pragma unroll
            for (int v = 0; v < MM_NV; v++)
                acc[r][v] = part[r][v] + acc[r][v];
    }
}

/* matmul_cpu_f32: C = alpha * op(A) * Bp + beta * C, A read where it lies and B from
 * packed panels. Element (i, k) of op(A[b]) is a[off_a + b*stride_a + i*rs + k*ks]
 * (rs = lda, ks = 1 for A; rs = 1, ks = lda for its transpose); rows past M read row M - 1
 * and are not written. Work-item (x, y, b) owns tiles_m x tiles_n micro-tiles of
 * MM_MR x MM_NR: row panels x*tiles_m .. x*tiles_m + tiles_m - 1 and column panels
 * y*tiles_n .. y*tiles_n + tiles_n - 1 (clipped to the matrix). It walks K in blocks of
 * kblock so one B micro-panel (kblock x MM_NR) stays in L1 while the row panels of its
 * block pass over it; C is read (beta) on the first block and accumulated on the later ones.
 * Arguments:
 *   M, N, K         C is M x N; K = length of the k range handled by this launch
 *   kblock          k values per cache block (1..K; K = no blocking)
 *   tiles_m, tiles_n  micro-tiles per work-item in each direction (>= 1)
 *   alpha, beta     beta == 0: C is not read
 *   a, off_a, rs, ks, stride_a        A as above; off_a points at k = 0 of this launch's range
 *   bp, off_bp, panel_bp, bks, stride_bp   B: element (k, j) of this launch's range is
 *                   bp[off_bp + b*stride_bp + (j/MM_NR)*panel_bp + k*bks + j%MM_NR]: packed panels
 *                   (bks = MM_NR, panel_bp = K*MM_NR), or B itself when N is a multiple of
 *                   MM_NR (bks = ldb, panel_bp = MM_NR);
 *                   stride_bp = 0 when one packed B serves the whole batch
 *   c, off_c, ldc, stride_c           C[b](i,j) = c[off_c + b*stride_c + i*ldc + j], or
 *                                     c[off_c + b*stride_c + j*ldc + i] with MM_EPI_CT in epi
 *   bias, off_bias, epi               the fused epilogue (mm_epi), after the last k block
 * NDRange: global (ceil(ceil(M/MM_MR) / tiles_m), ceil(ceil(N/MM_NR) / tiles_n), batch),
 *          local (1, 1, 1).
 * -D: MM_MR, MM_VW, MM_NV; MM_REQD_WGS adds reqd_work_group_size(1,1,1). */
__kernel MM_CPU_WGS void matmul_cpu_f32(const int M, const int N, const int K, const int kblock,
                                        const int tiles_m, const int tiles_n,
                                        const float alpha, const float beta,
                                        __global const float *restrict a, const long off_a,
                                        const long rs, const long ks, const long stride_a,
                                        __global const float *restrict bp, const long off_bp,
                                        const long panel_bp, const long bks, const long stride_bp,
                                        __global float *restrict c, const long off_c,
                                        const int ldc, const long stride_c,
                                        __global const float *restrict bias, const long off_bias, const int epi)
{
    const long b = (long)get_global_id(2);
    const int pm = (M + MM_MR - 1) / MM_MR;
    const int pn = (N + MM_NR - 1) / MM_NR;
    const int p0 = (int)get_global_id(0) * tiles_m;
    const int q0 = (int)get_global_id(1) * tiles_n;
    const int p1 = min(pm, p0 + tiles_m);
    const int q1 = min(pn, q0 + tiles_n);
    __global const float *abase = a + off_a + b * stride_a;
    __global const float *bbase = bp + off_bp + b * stride_bp;
    __global float *cbase = c + off_c + b * stride_c;

    for (int k0 = 0; k0 < K; k0 += kblock) {
        const int kl = min(kblock, K - k0);
        const float be = k0 == 0 ? beta : 1.0f;
        for (int q = q0; q < q1; q++) {
            __global const float *bq = bbase + (long)q * panel_bp + (long)k0 * bks;
            for (int p = p0; p < p1; p++) {
                __global const float *arow[MM_MR];
#pragma unroll
                for (int r = 0; r < MM_MR; r++)
                    arow[r] = abase + (long)min(p * MM_MR + r, M - 1) * rs + (long)k0 * ks;
                MM_VEC acc[MM_MR][MM_NV];
                mm_cpu_tile(acc, arow, ks, bq, bks, kl);
                mm_cpu_store(acc, alpha, be, cbase, ldc, p * MM_MR, q * MM_NR, M, N, k0 + kl >= K ? epi : epi & MM_EPI_CT,
                             bias, off_bias);
            }
        }
    }
}

/* ---- Fused epilogues of the CPU variant: products whose B is packed once and used many
 * times (the recurrent weights of a sequence), with the work that follows the product
 * done on the micro-tile while it is in registers. ---- */

/* matmul_pack_gates_f32: packs op(B) (K x G*U_total columns, G gate blocks of H columns
 * each) into MM_NR-column panels with the columns of each panel interleaved by gate: with
 * U = MM_NR / G units per panel, column c of panel q is gate c / U of unit q*U + c % U
 * (source column (c / U) * H + q*U + c % U), zero past unit H. G = 1 is the plain layout of
 * matmul_pack_b_f32 for a whole K. A work-item copies kb rows k of one panel column by
 * column: the kb x MM_NR block it writes and the block of the source it reads stay in L1.
 * Arguments: H, K, G, trans_b, b, off_b, ldb (op(B)(k, j) = b[off_b + k*ldb + j], or
 *            b[off_b + j*ldb + k] when trans_b), kb, bp (ceil(H / U) panels of K x MM_NR).
 * NDRange: global (ceil(H / U), ceil(K / kb)), any local size. */
__kernel void matmul_pack_gates_f32(const int H, const int K, const int G, const int trans_b,
                                    __global const float *restrict b, const long off_b, const int ldb, const int kb,
                                    __global float *restrict bp)
{
    const int q = (int)get_global_id(0), k0 = (int)get_global_id(1) * kb;
    const int U = MM_NR / G, k1 = min(K, k0 + kb);
    if (q * U >= H || k0 >= K)
        return;
    __global float *d = bp + (long)q * K * MM_NR;
    const long js = trans_b ? ldb : 1, ks = trans_b ? 1 : ldb;
    for (int cc = 0; cc < MM_NR; cc++) {
        const int g = cc / U, u = q * U + cc % U;
        if (g < G && u < H) {
            __global const float *src = b + off_b + ((long)g * H + u) * js;
            for (int k = k0; k < k1; k++)
                d[(long)k * MM_NR + cc] = src[k * ks];
        } else {
            for (int k = k0; k < k1; k++)
                d[(long)k * MM_NR + cc] = 0.0f;
        }
    }
}

/* matmul_packed_f32: C = op(A) * Bp (alpha 1, beta 0) for a B packed once by
 * matmul_pack_gates_f32 with G = 1: matmul_cpu_f32 over the whole K in one launch.
 * Arguments: M, N, K, kblock, tiles_m, tiles_n, a, off_a, rs, ks (as matmul_cpu_f32), bp,
 *            c, off_c, ldc.
 * NDRange: global (ceil(ceil(M/MM_MR) / tiles_m), ceil(ceil(N/MM_NR) / tiles_n)), local (1, 1). */
__kernel MM_CPU_WGS void matmul_packed_f32(const int M, const int N, const int K, const int kblock,
                                           const int tiles_m, const int tiles_n,
                                           __global const float *restrict a, const long off_a,
                                           const long rs, const long ks,
                                           __global const float *restrict bp,
                                           __global float *restrict c, const long off_c, const int ldc)
{
    const int pm = (M + MM_MR - 1) / MM_MR, pn = (N + MM_NR - 1) / MM_NR;
    const int p0 = (int)get_global_id(0) * tiles_m, q0 = (int)get_global_id(1) * tiles_n;
    const int p1 = min(pm, p0 + tiles_m), q1 = min(pn, q0 + tiles_n);
    for (int k0 = 0; k0 < K; k0 += kblock) {
        const int kl = min(kblock, K - k0);
        const float be = k0 == 0 ? 0.0f : 1.0f;
        for (int q = q0; q < q1; q++)
            for (int p = p0; p < p1; p++) {
                __global const float *arow[MM_MR];
#pragma unroll
                for (int r = 0; r < MM_MR; r++)
                    arow[r] = a + off_a + (long)min(p * MM_MR + r, M - 1) * rs + (long)k0 * ks;
                MM_VEC acc[MM_MR][MM_NV];
                mm_cpu_tile(acc, arow, ks, bp + (long)q * K * MM_NR + (long)k0 * MM_NR, MM_NR, kl);
                mm_cpu_store(acc, 1.0f, be, c + off_c, ldc, p * MM_MR, q * MM_NR, M, N, 0, bp, 0);
            }
    }
}

/* tanh of a float or a vector v (type T), faster than the tanh of CPU compilers' libraries:
 * 1 - 2 / (exp(2|v|) + 1) where that loses no digits (|v| >= 1/8), the Taylor polynomial to
 * v^9 below (its error under 1e-12 relative there), the sign of v put back. NaN stays NaN,
 * +-inf gives +-1. Used by the fused LSTM kernels. */
#define MM_TANH(T, v)                                                                             \
    copysign(select((T)(1.0f) - (T)(2.0f) / (exp((T)(2.0f) * fabs(v)) + (T)(1.0f)),              \
                    fabs(v) * ((T)(1.0f) +                                                        \
                               (v) * (v) *                                                        \
                                   ((T)(-1.0f / 3.0f) +                                           \
                                    (v) * (v) *                                                   \
                                        ((T)(2.0f / 15.0f) +                                      \
                                         (v) * (v) * ((T)(-17.0f / 315.0f) + (v) * (v) * (T)(62.0f / 2835.0f))))), \
                    fabs(v) < (T)(0.125f)),                                                       \
             (v))

/* Units per panel of the gate-interleaved LSTM product, and their vector type where it is
 * one of OpenCL's widths. */
#define MM_U (MM_NR / 4)
#if MM_NR == 8
#define MM_UVEC float2
#elif MM_NR == 16
#define MM_UVEC float4
#elif MM_NR == 32
#define MM_UVEC float8
#elif MM_NR == 64
#define MM_UVEC float16
#endif
#if MM_NR == 8
#define MM_ULOAD vload2
#define MM_USTORE vstore2
#elif MM_NR == 16
#define MM_ULOAD vload4
#define MM_USTORE vstore4
#elif MM_NR == 32
#define MM_ULOAD vload8
#define MM_USTORE vstore8
#elif MM_NR == 64
#define MM_ULOAD vload16
#define MM_USTORE vstore16
#endif
/* Two rows' U units as one vector, where 2U is one of OpenCL's widths. */
#if MM_NR == 8
#define MM_U2VEC float4
#elif MM_NR == 16
#define MM_U2VEC float8
#elif MM_NR == 32
#define MM_U2VEC float16
#endif

/* The forward cell on one (row, unit) element or a vector of them, type T, as lstm_fwd_f32
 * of cl/rnn.cl: the pre-activations x (input projection, gate blocks H apart) + row (the
 * product, gate blocks MM_U apart) + bb (bias) into the gates at g, c_t at cc from c_{t-1}
 * at cpv, h_t at hh, and c_t at hl too when clast >= 0. LD(p, s) and ST(v, p, s) load and
 * store a T at p, s floats between its rows: two rows for the two-row vectors, one
 * otherwise (rs: the rows' stride in the product's copy, rows). */
#define MM_LSTM_CELL(T, LD, ST, x, row, rs, bb, cpv, g, cc, hh, hl)                              \
    {                                                                                           \
        T pi = LD(x, G4), pf = LD((x) + H, G4), pg = LD((x) + 2 * H, G4), po = LD((x) + 3 * H, G4); \
        if (has_rec) {                                                                          \
            pi += LD(row, rs);                                                                  \
            pf += LD((row) + MM_U, rs);                                                         \
            pg += LD((row) + 2 * MM_U, rs);                                                     \
            po += LD((row) + 3 * MM_U, rs);                                                     \
        }                                                                                       \
        if (has_bias) {                                                                         \
            pi += LD(bb, 0);                                                                    \
            pf += LD((bb) + H, 0);                                                              \
            pg += LD((bb) + 2 * H, 0);                                                          \
            po += LD((bb) + 3 * H, 0);                                                          \
        }                                                                                       \
        const T one = (T)(1.0f);                                                                \
        const T ig = one / (one + exp(-pi)), fg = one / (one + exp(-pf)), gg = MM_TANH(T, pg),  \
                og = one / (one + exp(-po));                                                    \
        const T cn = fg * (has_c ? LD(cpv, H) : (T)(0.0f)) + ig * gg;                           \
        ST(ig, g, G4);                                                                          \
        ST(fg, (g) + H, G4);                                                                    \
        ST(gg, (g) + 2 * H, G4);                                                                \
        ST(og, (g) + 3 * H, G4);                                                                \
        ST(cn, cc, H);                                                                          \
        ST(og * MM_TANH(T, cn), hh, H);                                                         \
        if (clast >= 0)                                                                         \
            ST(cn, hl, H);                                                                      \
    }
#define MM_LD1S(p, s) (*(p))
#define MM_ST1S(v, p, s) (*(p) = (v))
#ifdef MM_UVEC
#define MM_LD1V(p, s) MM_ULOAD(0, p)
#define MM_ST1V(v, p, s) MM_USTORE(v, 0, p)
#endif
#ifdef MM_U2VEC
#define MM_LD2(p, s) ((MM_U2VEC)(MM_ULOAD(0, p), MM_ULOAD(0, (p) + (s))))
#define MM_ST2(v, p, s) (MM_USTORE((v).lo, 0, p), MM_USTORE((v).hi, 0, (p) + (s)))
#endif

/* One LSTM step on row panels p0 .. p1-1 and unit panels q0 .. q1-1 (MM_U units each): the
 * body of matmul_lstm_cpu_f32 and of each step of matmul_lstm_seq_cpu_f32; arguments as
 * theirs. */
static inline void mm_lstm_step(const int B, const int H, const int kblock, const int p0, const int p1, const int q0,
                                const int q1, const int has_rec, __global const float *a, const long off_a,
                                __global const float *bp, __global float *gt, const long goff,
                                __global const float *xp, const long xoff, __global const float *bias,
                                const long boff, const int has_bias, __global const float *cp, const long cpoff,
                                const int has_c, __global float *c, const long coff, __global float *h,
                                const long hoff, const long clast)
{
    const int U = MM_NR / 4, K = H;
    const long G4 = 4L * H;
    for (int q = q0; q < q1; q++) {
        const int j0 = q * U, nu = min(U, H - j0);
        for (int p = p0; p < p1; p++) {
            const int i0 = p * MM_MR;
            MM_VEC acc[MM_MR][MM_NV];
            if (has_rec) {
                __global const float *arow[MM_MR];
#pragma unroll
                for (int r = 0; r < MM_MR; r++)
                    arow[r] = a + off_a + (long)min(i0 + r, B - 1) * H;
                mm_cpu_tile_blocks(acc, arow, bp + (long)q * K * MM_NR, K, kblock);
            }
            const int mr = min(MM_MR, B - i0);
            /* the tile leaves its registers through constant indices (a runtime index would keep
             * the accumulators in memory through the product: measured 7% slower) */
            float rows[MM_MR][MM_NR];
            if (has_rec) {
#pragma unroll
                for (int r = 0; r < MM_MR; r++)
#pragma unroll
                    for (int v = 0; v < MM_NV; v++)
                        MM_VSTORE(acc[r][v], 0, rows[r] + v * MM_VW);
            }
            int r = 0;
#ifdef MM_U2VEC
            if (nu == MM_U) /* whole panels, two rows at a time: the cell on vectors of 2U */
                for (; r + 1 < mr; r += 2) {
                    const long bi = i0 + r, e0 = bi * H + j0;
                    MM_LSTM_CELL(MM_U2VEC, MM_LD2, MM_ST2, xp + xoff + bi * G4 + j0, rows[r], MM_NR,
                                 bias + boff + j0, cp + cpoff + e0, gt + goff + bi * G4 + j0, c + coff + e0,
                                 h + hoff + e0, h + clast + e0)
                }
#endif
            for (; r < mr; r++) {
                const long bi = i0 + r, e0 = bi * H + j0;
#ifdef MM_UVEC
                if (nu == MM_U) { /* a whole panel: the cell on vectors of U units */
                    MM_LSTM_CELL(MM_UVEC, MM_LD1V, MM_ST1V, xp + xoff + bi * G4 + j0, rows[r], MM_NR,
                                 bias + boff + j0, cp + cpoff + e0, gt + goff + bi * G4 + j0, c + coff + e0,
                                 h + hoff + e0, h + clast + e0)
                    continue;
                }
#endif
                for (int u = 0; u < nu; u++)
                    MM_LSTM_CELL(float, MM_LD1S, MM_ST1S, xp + xoff + bi * G4 + j0 + u, rows[r] + u, MM_NR,
                                 bias + boff + j0 + u, cp + cpoff + e0 + u, gt + goff + bi * G4 + j0 + u,
                                 c + coff + e0 + u, h + hoff + e0 + u, h + clast + e0 + u)
            }
        }
    }
}

/* matmul_lstm_cpu_f32: one LSTM step, the recurrent product and the cell in one launch:
 * pre = x W_ih^T (xp) + h_{t-1} W_hh^T (this product, when has_rec) + bias, then with gates
 * i, f, g, o = sig, sig, tanh, sig of pre: c_t = f c_{t-1} + i g, h_t = o tanh(c_t), in the
 * same operations and order as lstm_fwd_f32 of cl/rnn.cl after a GEMM. The product's
 * columns come gate-interleaved (matmul_pack_gates_f32, G = 4), so one micro-tile holds the
 * four gates of U = MM_NR / 4 units for MM_MR batch rows.
 * Arguments:
 *   B, H            batch rows and hidden units; the product is B x 4H with K = H
 *   kblock, tiles_m, tiles_n   as matmul_cpu_f32 (tiles_n counts panels of U units)
 *   has_rec         0: no h_{t-1} (the product is zero and is not formed)
 *   a, off_a        h_{t-1} (B, H) rows;  bp: W_hh^T packed with G = 4
 *   gt, goff        out: the activated gates (B, 4H), i f g o blocks of H
 *   xp, xoff        (B, 4H) input projection;  bias, boff, has_bias: b_ih + b_hh (4H)
 *   cp, cpoff, has_c   c_{t-1} (B, H) (absent: 0);  c, coff: c_t out;  h, hoff: h_t out
 *   clast           >= 0: c_t also written to h at clast (the final cell state)
 * NDRange: global (ceil(ceil(B/MM_MR) / tiles_m), ceil(ceil(H/U) / tiles_n)), local (1, 1).
 * -D: as matmul_cpu_f32; MM_NR a multiple of 4. */
__kernel MM_CPU_WGS void matmul_lstm_cpu_f32(const int B, const int H, const int kblock,
                                             const int tiles_m, const int tiles_n, const int has_rec,
                                             __global const float *restrict a, const long off_a,
                                             __global const float *restrict bp,
                                             __global float *restrict gt, const long goff,
                                             __global const float *restrict xp, const long xoff,
                                             __global const float *restrict bias, const long boff,
                                             const int has_bias,
                                             __global const float *restrict cp, const long cpoff,
                                             const int has_c, __global float *restrict c, const long coff,
                                             __global float *restrict h, const long hoff, const long clast)
{
    const int pm = (B + MM_MR - 1) / MM_MR, pn = (H + MM_U - 1) / MM_U;
    const int p0 = (int)get_global_id(0) * tiles_m, q0 = (int)get_global_id(1) * tiles_n;
    mm_lstm_step(B, H, kblock, p0, min(pm, p0 + tiles_m), q0, min(pn, q0 + tiles_n), has_rec, a, off_a, bp, gt, goff,
                 xp, xoff, bias, boff, has_bias, cp, cpoff, has_c, c, coff, h, hoff, clast);
}

/* matmul_lstm_seq_cpu_f32: the whole LSTM sequence in one launch (where the launches saved
 * outweigh the unit panels' parallelism: clgrad__gemm_cpu_whole_sequence on the host): the
 * rows of a batch never meet inside the recurrence, so the work-item owning row panel p runs
 * every step on its rows, each step as matmul_lstm_cpu_f32 (the same sums in the same order)
 * over all unit panels, and needs no other work-item's h_{t-1}.
 * Arguments:
 *   B, H, T, kblock     batch rows, hidden units, steps, k block of the product
 *   has_hc0, hc, hcoff  the initial state: h_0 (B, H) at hcoff, c_0 right after it
 *                       (has_hc0 0: zeros, hc not read)
 *   bp                  W_hh^T packed with G = 4 (matmul_pack_gates_f32)
 *   gt, goff            out: the activated gates (T, B, 4H)
 *   xp, xoff            the input projections (T, B, 4H)
 *   bias, boff, has_bias   b_ih + b_hh (4H)
 *   cs, csoff           out: the cell states c_1 .. c_T (T, B, H)
 *   y, yoff             out: h_1 .. h_T (T, B, H), then c_T (B, H)
 * NDRange: global (ceil(B / MM_MR)), local (1). */
__kernel MM_CPU_WGS void matmul_lstm_seq_cpu_f32(const int B, const int H, const int T, const int kblock,
                                                 const int has_hc0, __global const float *hc, const long hcoff,
                                                 __global const float *restrict bp, __global float *gt,
                                                 const long goff, __global const float *xp, const long xoff,
                                                 __global const float *bias, const long boff, const int has_bias,
                                                 __global float *cs, const long csoff, __global float *y,
                                                 const long yoff)
{
    const int p = (int)get_global_id(0), pn = (H + MM_U - 1) / MM_U;
    const long BH = (long)B * H, BG = 4 * BH;
    if (p * MM_MR >= B)
        return;
    for (int s = 0; s < T; s++) {
        __global const float *hp = s > 0 ? y : hc;
        __global const float *cprev = s > 0 ? cs : hc;
        const long hpoff = s > 0 ? yoff + (s - 1) * BH : hcoff, cpoff = s > 0 ? csoff + (s - 1) * BH : hcoff + BH;
        const int has_prev = s > 0 || has_hc0;
        mm_lstm_step(B, H, kblock, p, p + 1, 0, pn, has_prev, hp, hpoff, bp, gt, goff + s * BG, xp, xoff + s * BG,
                     bias, boff, has_bias, cprev, cpoff, has_prev, cs, csoff + s * BH, y, yoff + s * BH,
                     s == T - 1 ? yoff + T * BH : -1);
    }
}

/* One (b, unit) element of the LSTM cell's backward (lstm_bwd_f32 of cl/rnn.cl), on T =
 * float or MM_UVEC: the pre-activation gate gradients into o[0], o[H], o[2H], o[3H] and
 * dL/dc_{t-1} into *dco. */
#define MM_LSTM_BWD(T, LD, ST, gp, gyv, dhv, dcv, cv, cpv, o, dco)                               \
    {                                                                                           \
        T ig = LD(gp), fg = LD(gp + H), gg = LD(gp + 2 * H), og = LD(gp + 3 * H);               \
        T d = gyv;                                                                              \
        if (has_dh) d += dhv;                                                                   \
        const T one = (T)(1.0f);                                                                \
        T tc = MM_TANH(T, cv);                                                                  \
        T dc = dcv + d * og * (one - tc * tc);                                                  \
        T cprev = has_c ? cpv : (T)(0.0f);                                                      \
        ST(dc * gg * ig * (one - ig), o);                                                       \
        ST(dc * cprev * fg * (one - fg), o + H);                                                \
        ST(dc * ig * (one - gg * gg), o + 2 * H);                                               \
        ST(d * tc * og * (one - og), o + 3 * H);                                                \
        ST(dc * fg, dco);                                                                       \
    }
#define MM_LD1(p) (*(p))
#define MM_ST1(v, p) (*(p) = (v))
#ifdef MM_UVEC
#define MM_LDU(p) MM_ULOAD(0, p)
#define MM_STU(v, p) MM_USTORE(v, 0, p)
#endif

/* One backward step of the LSTM on row panel p: the body of matmul_lstm_bwd_cpu_f32 and of
 * each step of matmul_lstm_seq_bwd_cpu_f32; arguments as theirs. */
static inline void mm_lstm_bwd_step(const int B, const int H, const int kblock, const int p,
                                    __global const float *gy, const long gyoff, __global const float *dh,
                                    const long dhoff, const int has_dh, __global const float *dcin,
                                    const long dcinoff, __global const float *gs, const long gsoff,
                                    __global const float *c, const long coff, __global const float *cp,
                                    const long cpoff, const int has_c, __global float *dg, const long dgoff,
                                    __global float *dcout, const long dcoutoff, const int do_gemm,
                                    __global const float *bp, __global float *dho, const long dhooff)
{
    const int i0 = p * MM_MR;
    const int mr = min(MM_MR, B - i0), K = 4 * H;
    for (int r = 0; r < mr; r++) {
        const long b = i0 + r;
        int j = 0;
#ifdef MM_UVEC
        for (; j + MM_U <= H; j += MM_U) {
            const long e = b * H + j;
            __global const float *gp = gs + gsoff + b * K + j;
            __global float *o = dg + dgoff + b * K + j;
            MM_LSTM_BWD(MM_UVEC, MM_LDU, MM_STU, gp, MM_LDU(gy + gyoff + e), MM_LDU(dh + dhoff + e),
                        MM_LDU(dcin + dcinoff + e), MM_LDU(c + coff + e), MM_LDU(cp + cpoff + e), o,
                        dcout + dcoutoff + e)
        }
#endif
        for (; j < H; j++) {
            const long e = b * H + j;
            __global const float *gp = gs + gsoff + b * K + j;
            __global float *o = dg + dgoff + b * K + j;
            MM_LSTM_BWD(float, MM_LD1, MM_ST1, gp, gy[gyoff + e], dh[dhoff + e], dcin[dcinoff + e], c[coff + e],
                        cp[cpoff + e], o, dcout + dcoutoff + e)
        }
    }
    if (!do_gemm)
        return;
    /* the rows' dL/dh_{t-1} = dg W_hh, k blocks adding their partial sums as matmul_cpu_f32 */
    const int pn = (H + MM_NR - 1) / MM_NR;
    for (int q = 0; q < pn; q++) {
        __global const float *arow[MM_MR];
#pragma unroll
        for (int r = 0; r < MM_MR; r++)
            arow[r] = dg + dgoff + (long)min(i0 + r, B - 1) * K;
        MM_VEC acc[MM_MR][MM_NV];
        mm_cpu_tile_blocks(acc, arow, bp + (long)q * K * MM_NR, K, kblock);
        mm_cpu_store(acc, 1.0f, 0.0f, dho + dhooff, H, i0, q * MM_NR, B, H, 0, bp, 0);
    }
}

/* matmul_lstm_bwd_cpu_f32: one backward step of the LSTM, the cell's backward and the
 * recurrent product in one launch: a work-item owns MM_MR batch rows, makes their gate
 * gradients dg (B, 4H) and dL/dc_{t-1} as lstm_bwd_f32 does, then dL/dh_{t-1} (B, H) of those
 * rows = dg W_hh (when do_gemm), with W_hh packed once (matmul_pack_gates_f32, G = 1). The
 * rows' dL/dh_t is read before dL/dh_{t-1} overwrites it (dh may be both).
 * Arguments: B, H, kblock, gy, gyoff (dL/dh_t from outside), dh, dhoff, has_dh, dcin, dcinoff,
 *            gs, gsoff (the gates), c, coff, cp, cpoff, has_c, dg, dgoff, dcout, dcoutoff (as
 *            lstm_bwd_f32), do_gemm, bp (W_hh packed), dho, dhooff (dL/dh_{t-1} out).
 * NDRange: global (ceil(B / MM_MR)), local (1). */
__kernel MM_CPU_WGS void matmul_lstm_bwd_cpu_f32(const int B, const int H, const int kblock,
                                                 __global const float *gy, const long gyoff,
                                                 __global const float *dh, const long dhoff, const int has_dh,
                                                 __global const float *dcin, const long dcinoff,
                                                 __global const float *gs, const long gsoff,
                                                 __global const float *c, const long coff,
                                                 __global const float *cp, const long cpoff, const int has_c,
                                                 __global float *dg, const long dgoff,
                                                 __global float *dcout, const long dcoutoff, const int do_gemm,
                                                 __global const float *restrict bp,
                                                 __global float *dho, const long dhooff)
{
    const int p = (int)get_global_id(0);
    if (p * MM_MR < B)
        mm_lstm_bwd_step(B, H, kblock, p, gy, gyoff, dh, dhoff, has_dh, dcin, dcinoff, gs, gsoff, c, coff, cp, cpoff,
                         has_c, dg, dgoff, dcout, dcoutoff, do_gemm, bp, dho, dhooff);
}

/* matmul_lstm_seq_bwd_cpu_f32: the whole backward pass of the LSTM sequence in one launch,
 * the work-item owning row panel p running steps T-1 .. 0 on its rows, each as
 * matmul_lstm_bwd_cpu_f32 (see matmul_lstm_seq_cpu_f32 for why the rows need nothing else).
 * Arguments:
 *   B, H, T, kblock     as matmul_lstm_seq_cpu_f32
 *   gy, gyoff           dL/dh_1 .. dL/dh_T (T, B, H), then dL/dc_T (B, H)
 *   dhc, dhcoff         work and out: dL/dh (B, H) then dL/dc (B, H); after the launch those
 *                       of h_0 and c_0 (dL/dh_0 only when dh0)
 *   gs, gsoff; cs, csoff   the gates (T, B, 4H) and cell states (T, B, H) of the forward
 *   has_c0, c0, c0off   c_0 (B, H) (has_c0 0: zeros, not read)
 *   dg, dgoff           out: the gate gradients (T, B, 4H)
 *   dh0                 whether dL/dh_0 is wanted (the product of step 0)
 *   bp                  W_hh packed with G = 1
 * NDRange: global (ceil(B / MM_MR)), local (1). */
__kernel MM_CPU_WGS void matmul_lstm_seq_bwd_cpu_f32(const int B, const int H, const int T, const int kblock,
                                                     __global const float *gy, const long gyoff,
                                                     __global float *dhc, const long dhcoff,
                                                     __global const float *gs, const long gsoff,
                                                     __global const float *cs, const long csoff, const int has_c0,
                                                     __global const float *c0, const long c0off,
                                                     __global float *dg, const long dgoff, const int dh0,
                                                     __global const float *restrict bp)
{
    const int p = (int)get_global_id(0);
    const long BH = (long)B * H, BG = 4 * BH;
    if (p * MM_MR >= B)
        return;
    for (int s = T - 1; s >= 0; s--) {
        __global const float *cprev = s > 0 ? cs : c0;
        const long cpoff = s > 0 ? csoff + (s - 1) * BH : c0off;
        mm_lstm_bwd_step(B, H, kblock, p, gy, gyoff + s * BH, dhc, dhcoff, s < T - 1, s == T - 1 ? gy : dhc,
                         s == T - 1 ? gyoff + T * BH : dhcoff + BH, gs, gsoff + s * BG, cs, csoff + s * BH, cprev,
                         cpoff, s > 0 || has_c0, dg, dgoff + s * BG, dhc, dhcoff + BH, s > 0 || dh0, bp, dhc,
                         dhcoff);
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
 *   bias, off_bias, epi                the fused epilogue (mm_epi)
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
                                            const int ldc, const long stride_c,
                                            __global const float *restrict bias, const long off_bias,
                                            const int epi)
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
                *cp = epi ? mm_epi(y, epi, bias, off_bias, i, j) : y;
            }
        }
    }
}

#endif /* MM_VARIANT_TILED */
