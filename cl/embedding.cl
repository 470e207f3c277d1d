/* Embedding lookup and its deterministic backward. The backward sorts the positions by the
 * row they index (a bitonic sort of (row << 32 | position) keys, so positions of one row stay
 * in position order), finds each row's segment, and sums the gradient rows of a segment in
 * that order: no atomics, the same bits on every run. Indices outside [0, V) read nothing
 * (their output row is 0) and receive no gradient. */

/* The row index of a (D, rows) launch whose rows fold over dims 1 and 2 (dim 1 of size
 * min(rows, 32768), work-groups of height 1), so no dimension holds many work-groups. */
static inline long emb_row(void)
{
    return (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
}

/* embedding_fwd_f32: out[i*D + d] = w[idx[i]*D + d] for i < n, d < D.
 * Args: out, ooff, w, woff (contiguous (V, D)), idx, ioff (contiguous i32), n, V, D.
 * NDRange: 3-D (D rounded up, rows n folded as in emb_row). */
kernel void embedding_fwd_f32(global float *out, long ooff, global const float *w, long woff,
                              global const int *idx, long ioff, long n, long V, long D)
{
    long d = get_global_id(0), i = emb_row();
    if (d >= D || i >= n) return;
    long r = idx[ioff + i];
    out[ooff + i * D + d] = (r >= 0 && r < V) ? w[woff + r * D + d] : 0.0f;
}

/* embedding_keys: keys[i] = row << 32 | i for i < n, with row = idx[i] when in [0, V), else
 * 0xffffffff (sorted to the end); keys[i] = ~0 for n <= i < npow2 (padding).
 * Args: keys, idx, ioff, n, npow2, V.  NDRange: 1-D >= npow2. */
kernel void embedding_keys(global ulong *keys, global const int *idx, long ioff, long n, long npow2, long V)
{
    long i = get_global_id(0);
    if (i >= npow2) return;
    if (i >= n) {
        keys[i] = ~(ulong)0;
        return;
    }
    long r = idx[ioff + i];
    ulong row = (r >= 0 && r < V) ? (ulong)r : 0xffffffffUL;
    keys[i] = (row << 32) | (ulong)i;
}

/* bitonic_step: one compare-exchange pass of a bitonic sort (ascending) of npow2 keys, stage
 * k (block size), distance j.  Args: keys, npow2, k, j.  NDRange: 1-D >= npow2. */
kernel void bitonic_step(global ulong *keys, long npow2, long k, long j)
{
    long i = get_global_id(0);
    if (i >= npow2) return;
    long l = i ^ j;
    if (l <= i) return;
    ulong a = keys[i], b = keys[l];
    int up = (i & k) == 0;
    if ((a > b) == up) {
        keys[i] = b;
        keys[l] = a;
    }
}

/* embedding_segments: for sorted keys, seg[2*row] = first and seg[2*row+1] = one past the
 * last position in the sorted order of each row present (seg pre-filled with 0).
 * Args: seg, keys, n, V.  NDRange: 1-D >= n. */
kernel void embedding_segments(global int *seg, global const ulong *keys, long n, long V)
{
    long i = get_global_id(0);
    if (i >= n) return;
    ulong row = keys[i] >> 32;
    if (row >= (ulong)V) return;
    if (i == 0 || (keys[i - 1] >> 32) != row) seg[2 * row] = (int)i;
    if (i == n - 1 || (keys[i + 1] >> 32) != row) seg[2 * row + 1] = (int)(i + 1);
}

/* embedding_bwd_f32: dw[v*D + d] = sum over the row's segment, in position order, of
 * gy[pos*D + d].  Args: dw (contiguous (V, D)), keys, seg, gy, gyoff, V, D.
 * NDRange: 3-D (D rounded up, rows V folded as in emb_row). */
kernel void embedding_bwd_f32(global float *dw, global const ulong *keys, global const int *seg,
                              global const float *gy, long gyoff, long V, long D)
{
    long d = get_global_id(0), v = emb_row();
    if (d >= D || v >= V) return;
    float acc = 0.0f;
    int end = seg[2 * v + 1];
    for (int s = seg[2 * v]; s < end; s++) {
        long pos = (long)(keys[s] & 0xffffffffUL);
        acc += gy[gyoff + pos * D + d];
    }
    dw[v * D + d] = acc;
}
