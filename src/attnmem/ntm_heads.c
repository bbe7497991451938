/* One NTM step's heads, forward and backward, in plain C99.
 *
 * Graves, Wayne & Danihelka (2014), "Neural Turing Machines", Section 3: content addressing (Eqs. 5-6),
 * interpolation (Eq. 7), rotation by a circular convolution (Eq. 8), sharpening (Eq. 9), reading (Eq. 2) and the
 * erase and add of one write head (Eqs. 3-4).
 *
 * This file mirrors attnmem/ntm_fused.py (FusedHeads): the same input layout, the same guards (eps inside both
 * norms, beta and gamma clamped at max_sharpness, the log clamped at the type's smallest normal number, softmaxes
 * that subtract their largest entry, no gradient where the log was clamped) and the same hand-derived backward
 * pass, whose derivatives that file's docstring lists. What differs is the cost: a few loops instead of about 250
 * small tensor operations. attnmem/ntm_kernel.py compiles it twice, with -DREAL=float -DSUFFIX=_f32 and with
 * -DREAL=double -DSUFFIX=_f64, and calls it through ctypes.
 *
 * Every array is contiguous, batch first:
 *   raw       (B, H * P + 2 * width), P = width + 3 + S; per head: key (width), beta logit, gate logit, shift
 *             logits (S = 2r + 1), gamma logit; then the write head's erase logits and add logits (width each)
 *   memory    (B, N, width)
 *   previous_read (B, R, N) and previous_write (B, 1, N), last step's weightings of the R = H - 1 read heads and
 *             of the one write head (two arrays, as the NTM keeps them in its state, so that nothing has to join
 *             them before the call or split them after it)
 * The forward pass writes the weightings (B, R, N) and (B, 1, N), the reads (B, R, width), the new memory
 * (B, N, width), the erase and add vectors (B, 1, 2, width), and into `saved` (ntm_heads_saved_size numbers) what
 * the backward pass needs.
 *
 * Speed: the memory-sized loops (B x N x width numbers) dominate, and the width is short (20 in the book). Sums
 * over the width for every location and head (norms, dot products with the keys, the reads, and their gradients)
 * therefore run on a transposed copy of one batch element's memory, as long vector loops over the locations;
 * element-wise work runs row by row. Short loops run in fixed chunks of CHUNK numbers, which the compiler turns
 * into vector instructions. In single precision the addressing's exponentials and logarithms are computed here
 * rather than by the C library, so that they too become vector code (see exp_nonpositive_float).
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#if !defined(REAL) || !defined(SUFFIX)
#error "compile with -DREAL=float -DSUFFIX=_f32 or with -DREAL=double -DSUFFIX=_f64"
#endif
#define GLUE_(a, b) a##b
#define GLUE(a, b) GLUE_(a, b)
#define NAME(x) GLUE(x, SUFFIX)

/* The smallest positive normal number of REAL (torch.finfo(dtype).tiny). */
#define TINY ((REAL)(sizeof(REAL) == sizeof(float) ? FLT_MIN : DBL_MIN))

/* Sizes of one call, and where each saved quantity sits in one batch element's slice of `saved`. */
typedef struct {
    int64_t read_heads, heads, locations, width, shift_size, radius, per_head, raw_width;
    int64_t scalars;        /* per head: beta, gate, gamma, 1/|k|, softplus'(beta logit), softplus'(gamma logit) */
    int64_t shifts;         /* (H, S) shift distributions */
    int64_t cosine, content, gated, shifted, logs;  /* (H, N) each */
    int64_t memory_norms;   /* (N) 1/|M_i| */
    int64_t stride;         /* numbers per batch element */
} Layout;

enum { BETA, GATE, GAMMA, KEY_NORM, BETA_SLOPE, GAMMA_SLOPE, SCALARS };

static Layout layout(int64_t read_heads, int64_t locations, int64_t width, int64_t shift_size) {
    Layout s;
    s.read_heads = read_heads;
    s.heads = read_heads + 1;
    s.locations = locations;
    s.width = width;
    s.shift_size = shift_size;
    s.radius = shift_size / 2;
    s.per_head = width + 3 + shift_size;
    s.raw_width = s.heads * s.per_head + 2 * width;
    s.scalars = 0;
    s.shifts = s.scalars + s.heads * SCALARS;
    s.cosine = s.shifts + s.heads * shift_size;
    s.content = s.cosine + s.heads * locations;
    s.gated = s.content + s.heads * locations;
    s.shifted = s.gated + s.heads * locations;
    s.logs = s.shifted + s.heads * locations;
    s.memory_norms = s.logs + s.heads * locations;
    s.stride = s.memory_norms + locations;
    return s;
}

/* The offset o in [0, N) with (i - k) mod N = (i + o) mod N, for any shift k. */
static int64_t wrap_offset(int64_t k, int64_t n) {
    int64_t o = (-k) % n;
    return o < 0 ? o + n : o;
}

/* As calls to the C library, which the compiler cannot turn into vector code, the softmaxes' exponentials and the
 * sharpening's logarithm took about a third of the forward pass. In single precision they are computed here instead,
 * with the range reductions and polynomials of Moshier's Cephes library (expf.c, logf.c), good to about one unit in
 * the last place; tests/test_ntm_kernel.py checks that the float32 kernel is as accurate as FusedHeads in float32.
 * In double precision the C library's exp and log are used. */
static float float_from_bits(uint32_t bits) {
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static uint32_t bits_of_float(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* e^x for x <= 0 (a softmax's logits minus their largest); results below about 1e-38 become 0 or subnormal. */
static float exp_nonpositive_float(float x) {
    const float shifter = 12582912.0f;  /* 1.5 * 2^23: y + shifter rounds y to an integer n, in its low bits */
    const float clamped = x < -88.0f ? -88.0f : x;  /* keeps 2^n at or above 2^-127, which is 0 */
    const float t = clamped * 1.44269504088896341f + shifter, n = t - shifter;
    const float scale = float_from_bits((bits_of_float(t) - bits_of_float(shifter) + 127u) << 23);  /* 2^n */
    const float r = (clamped - n * 0.693359375f) + n * 2.12194440e-4f;  /* x - n ln 2, in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return (p * (r * r) + r + 1.0f) * scale;
}

/* log x for a normal x > 0 (a NaN stays NaN) */
static float log_normal_float(float x) {
    const uint32_t bits = bits_of_float(x);
    const float exponent = (float)((int32_t)((bits >> 23) & 0xffu) - 126);
    const float mantissa = float_from_bits((bits & 0x007fffffu) | 0x3f000000u);  /* x = mantissa 2^exponent */
    const int below = mantissa < 0.707106781186547524f;  /* then use 2 mantissa in [sqrt(1/2), sqrt(2)) */
    const float e = below ? exponent - 1.0f : exponent, m = below ? mantissa + mantissa - 1.0f : mantissa - 1.0f;
    const float z = m * m;
    float p = 7.0376836292e-2f;
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    const float y = ((m * z * p + e * -2.12194440e-4f) + -0.5f * z);
    return x == x ? m + y + e * 0.693359375f : x;
}

#define IS_FLOAT (sizeof(REAL) == sizeof(float))
static REAL exp_nonpositive(REAL x) { return IS_FLOAT ? (REAL)exp_nonpositive_float((float)x) : exp(x); }
static REAL log_normal(REAL x) { return IS_FLOAT ? (REAL)log_normal_float((float)x) : log(x); }

static REAL softplus(REAL x) { return x > 20 ? x : log1p(exp(x)); } /* torch's threshold of 20 */
static REAL sigmoid(REAL x) { return 1 / (1 + exp(-x)); }
static REAL clamp_max(REAL x, REAL cap) { return x > cap ? cap : x; } /* like torch, keeps a NaN */

/* Loops run in fixed chunks of CHUNK numbers (single vector instructions, no set-up) plus a scalar tail. Sums keep
 * CHUNK or 2 * CHUNK independent partial sums: with one running sum every addition waits for the one before (the
 * compiler may not reorder them, there is no -ffast-math), while the partial sums become vector instructions. */
enum { CHUNK = 4 };

/* The sum of CHUNK partial sums, pairwise. */
static REAL sum_chunk(REAL *partial) {
    for (int half = CHUNK / 2; half > 0; half /= 2)
        for (int l = 0; l < half; l++) partial[l] += partial[l + half];
    return partial[0];
}

/* sum_j x_j y_j */
static REAL dot(const REAL *x, const REAL *y, int64_t n) {
    REAL even[CHUNK] = {0}, odd[CHUNK] = {0};
    int64_t j = 0;
    for (; j + 2 * CHUNK <= n; j += 2 * CHUNK)
        for (int l = 0; l < CHUNK; l++) {
            even[l] += x[j + l] * y[j + l];
            odd[l] += x[j + CHUNK + l] * y[j + CHUNK + l];
        }
    for (; j + CHUNK <= n; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) even[l] += x[j + l] * y[j + l];
    for (int l = 0; l < CHUNK; l++) even[l] += odd[l];
    REAL total = sum_chunk(even);
    for (; j < n; j++) total += x[j] * y[j];
    return total;
}

/* sum_j x_j */
static REAL sum(const REAL *x, int64_t n) {
    REAL even[CHUNK] = {0}, odd[CHUNK] = {0};
    int64_t j = 0;
    for (; j + 2 * CHUNK <= n; j += 2 * CHUNK)
        for (int l = 0; l < CHUNK; l++) {
            even[l] += x[j + l];
            odd[l] += x[j + CHUNK + l];
        }
    for (; j + CHUNK <= n; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) even[l] += x[j + l];
    for (int l = 0; l < CHUNK; l++) even[l] += odd[l];
    REAL total = sum_chunk(even);
    for (; j < n; j++) total += x[j];
    return total;
}

/* y += a x */
static void axpy(REAL *restrict y, REAL a, const REAL *restrict x, int64_t n) {
    int64_t j = 0;
    for (; j + CHUNK <= n; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) y[j + l] += a * x[j + l];
    for (; j < n; j++) y[j] += a * x[j];
}

/* y += x * x, element by element */
static void add_squares(REAL *restrict y, const REAL *restrict x, int64_t n) {
    int64_t j = 0;
    for (; j + CHUNK <= n; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) y[j + l] += x[j + l] * x[j + l];
    for (; j < n; j++) y[j] += x[j] * x[j];
}

static void fill_zero(REAL *x, int64_t n) {
    for (int64_t j = 0; j < n; j++) x[j] = 0;
}

/* columns (width, N) = the transpose of one batch element's memory (N, width) */
static void transpose(REAL *restrict columns, const REAL *restrict memory, int64_t n, int64_t width) {
    int64_t i = 0;
    for (; i + CHUNK <= n; i += CHUNK)  /* CHUNK rows at a time: one vector store per column */
        for (int64_t j = 0; j < width; j++)
            for (int l = 0; l < CHUNK; l++) columns[j * n + i + l] = memory[(i + l) * width + j];
    for (; i < n; i++)
        for (int64_t j = 0; j < width; j++) columns[j * n + i] = memory[i * width + j];
}

/* max_j x_j, n >= 1 */
static REAL maximum(const REAL *x, int64_t n) {
    REAL partial[CHUNK];
    for (int l = 0; l < CHUNK; l++) partial[l] = x[0];
    int64_t j = 0;
    for (; j + CHUNK <= n; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) partial[l] = x[j + l] > partial[l] ? x[j + l] : partial[l];
    REAL top = partial[0];
    for (int l = 1; l < CHUNK; l++) top = partial[l] > top ? partial[l] : top;
    for (; j < n; j++) top = x[j] > top ? x[j] : top;
    return top;
}

/* y = softmax(z), subtracting the largest entry first; y may be z. */
static void softmax(REAL *y, const REAL *z, int64_t n) {
    const REAL top = maximum(z, n);
    for (int64_t i = 0; i < n; i++) y[i] = exp_nonpositive(z[i] - top);
    const REAL total = sum(y, n);
    for (int64_t i = 0; i < n; i++) y[i] /= total;
}

/* dL/dz in place of dL/dy for y = softmax(z): y * (dL/dy - sum(y * dL/dy)). */
static void softmax_backward(const REAL *restrict y, REAL *restrict grad, int64_t n) {
    const REAL inner = dot(y, grad, n);
    for (int64_t i = 0; i < n; i++) grad[i] = y[i] * (grad[i] - inner);
}

/* out_i = sum_k weights_{k+r} x_{(i-k) mod N} over k = -r..r (Eq. 8), or with `adjoint` sum_k weights_{k+r}
 * x_{(i+k) mod N}, the rotation by the reflected weights, which is the first one's transpose. Each shift adds two
 * contiguous runs, x_{o..N-1} to out_{0..N-o-1} and x_{0..o-1} to the rest. */
static void rotate(REAL *restrict out, const REAL *restrict x, const REAL *weights, int64_t n, int64_t radius,
                   int adjoint) {
    fill_zero(out, n);
    for (int64_t k = -radius; k <= radius; k++) {
        const int64_t offset = wrap_offset(adjoint ? -k : k, n);
        axpy(out, weights[k + radius], x + offset, n - offset);
        axpy(out + n - offset, weights[k + radius], x, offset);
    }
}

/* sum_i g_i x_{(i-k) mod N}, the gradient of a rotation's output g with respect to its weight on shift k */
static REAL rotated_dot(const REAL *g, const REAL *x, int64_t k, int64_t n) {
    const int64_t offset = wrap_offset(k, n);
    return dot(g, x + offset, n - offset) + dot(g + n - offset, x, offset);
}

/* Squash one head's raw outputs (Section 3.1-3.2): the per-head scalars and the shift distribution. */
static void squash_head(const REAL *raw, const Layout *s, double eps, double max_sharpness, REAL *scalars,
                        REAL *shifts) {
    const int64_t width = s->width, shift_size = s->shift_size;
    const REAL beta_logit = raw[width], gamma_logit = raw[width + 2 + shift_size], cap = (REAL)max_sharpness;
    scalars[BETA] = clamp_max(softplus(beta_logit), cap);
    scalars[GATE] = sigmoid(raw[width + 1]);
    scalars[GAMMA] = clamp_max(1 + softplus(gamma_logit), cap);
    scalars[KEY_NORM] = 1 / sqrt(dot(raw, raw, width) + (REAL)(eps * eps));
    scalars[BETA_SLOPE] = sigmoid(beta_logit);
    scalars[GAMMA_SLOPE] = sigmoid(gamma_logit);
    softmax(shifts, raw + width + 2, shift_size);
}

/* Eq. 6's ingredients for every head: 1/|M_i| and the dot products k . M_i, as sums over the memory's columns
 * (long loops over the locations). */
static void norms_and_dots(const Layout *s, const REAL *raw, const REAL *columns, REAL eps2, REAL *memory_norms,
                           REAL *dots) {
    const int64_t n = s->locations, width = s->width;
    fill_zero(memory_norms, n);
    for (int64_t j = 0; j < width; j++) add_squares(memory_norms, columns + j * n, n);
    for (int64_t i = 0; i < n; i++) memory_norms[i] = 1 / sqrt(memory_norms[i] + eps2);
    fill_zero(dots, s->heads * n);
    for (int64_t h = 0; h < s->heads; h++)
        for (int64_t j = 0; j < width; j++) axpy(dots + h * n, raw[h * s->per_head + j], columns + j * n, n);
}

/* One head's weighting from its cosines (Eqs. 6-9): content, gated, shifted, logs and the final weights. */
static void address_head(const Layout *s, const REAL *scalars, const REAL *shifts, const REAL *cosine,
                         const REAL *previous, REAL *content, REAL *gated, REAL *shifted, REAL *logs,
                         REAL *weights) {
    const int64_t n = s->locations;
    const REAL beta = scalars[BETA], gate = scalars[GATE], gamma = scalars[GAMMA];
    for (int64_t i = 0; i < n; i++) content[i] = beta * cosine[i];
    softmax(content, content, n);
    for (int64_t i = 0; i < n; i++)  /* torch.lerp's two branches */
        gated[i] = gate < (REAL)0.5 ? previous[i] + gate * (content[i] - previous[i])
                                    : content[i] - (content[i] - previous[i]) * (1 - gate);
    rotate(shifted, gated, shifts, n, s->radius, 0);
    for (int64_t i = 0; i < n; i++) {
        logs[i] = log_normal(shifted[i] < TINY ? TINY : shifted[i]);
        weights[i] = gamma * logs[i];
    }
    softmax(weights, weights, n);
}

/* One row of the write (Eqs. 3-4): M'_i = M_i (1 - w e) + w a, computed as M_i - w (e * M_i - a) like FusedHeads. */
static void write_row(REAL *restrict out, const REAL *restrict row, REAL w, const REAL *restrict erase,
                      const REAL *restrict add, int64_t width) {
    for (int64_t j = 0; j < width; j++) out[j] = row[j] - w * (row[j] * erase[j] - add[j]);
}

int64_t NAME(ntm_heads_saved_size)(int64_t batch, int64_t read_heads, int64_t locations, int64_t width,
                                   int64_t shift_size) {
    return batch * layout(read_heads, locations, width, shift_size).stride;
}

/* Head h's N numbers, for batch element b, in a pair of arrays (B, R, N) for the read heads, h < R, and
 * (B, 1, N) for the write head, h = R. */
#define HEAD_ROW(read_array, write_array, b, h, s) \
    ((h) < (s).read_heads ? (read_array) + ((b) * (s).read_heads + (h)) * (s).locations \
                          : (write_array) + (b) * (s).locations)

/* The forward and backward passes are written once, as functions inlined into the exported ones below, which call
 * them twice: once with the width as a constant (see COMMON_WIDTH) and once with any width. */
#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* Returns 0, or 1 when scratch memory could not be allocated. */
static ALWAYS_INLINE int forward_pass(const REAL *raw, const REAL *memory, const REAL *previous_read,
                                      const REAL *previous_write, int64_t batch, int64_t read_heads,
                                      int64_t locations, int64_t width, int64_t shift_size, double eps,
                                      double max_sharpness, REAL *read_weights, REAL *write_weights, REAL *reads,
                                      REAL *new_memory, REAL *erase_add, REAL *saved) {
    const Layout s = layout(read_heads, locations, width, shift_size);
    const int64_t heads = s.heads, n = locations;
    REAL *columns = malloc(sizeof(REAL) * (size_t)(width * n));  /* one batch element's memory, transposed */
    if (columns == NULL) return 1;
    for (int64_t b = 0; b < batch; b++) {
        const REAL *raw_b = raw + b * s.raw_width, *m = memory + b * n * width;
        const REAL *write_logits = raw_b + heads * s.per_head;
        REAL *sv = saved + b * s.stride, *write_b = write_weights + b * n;
        REAL *reads_b = reads + b * read_heads * width, *new_b = new_memory + b * n * width;
        REAL *erase = erase_add + b * 2 * width, *add = erase + width;
        REAL *scalars = sv + s.scalars, *cosine = sv + s.cosine, *memory_norms = sv + s.memory_norms;

        for (int64_t h = 0; h < heads; h++)
            squash_head(raw_b + h * s.per_head, &s, eps, max_sharpness, scalars + h * SCALARS,
                        sv + s.shifts + h * shift_size);
        for (int64_t j = 0; j < width; j++) {
            erase[j] = sigmoid(write_logits[j]);
            add[j] = tanh(write_logits[width + j]);
        }
        transpose(columns, m, n, width);
        norms_and_dots(&s, raw_b, columns, (REAL)(eps * eps), memory_norms, cosine);
        for (int64_t h = 0; h < heads; h++) {
            REAL *cosine_h = cosine + h * n;  /* Eq. 6: cos = (k . M_i) / (|k| |M_i|) */
            const REAL key_norm = scalars[h * SCALARS + KEY_NORM];
            for (int64_t i = 0; i < n; i++) cosine_h[i] *= key_norm * memory_norms[i];
            address_head(&s, scalars + h * SCALARS, sv + s.shifts + h * shift_size, cosine_h,
                         HEAD_ROW(previous_read, previous_write, b, h, s), sv + s.content + h * n,
                         sv + s.gated + h * n, sv + s.shifted + h * n, sv + s.logs + h * n,
                         HEAD_ROW(read_weights, write_weights, b, h, s));
        }
        /* Eq. 2, r_j = sum_i w_i M_ij along the columns; Eqs. 3-4 row by row */
        for (int64_t h = 0; h < read_heads; h++)
            for (int64_t j = 0; j < width; j++)
                reads_b[h * width + j] = dot(read_weights + (b * read_heads + h) * n, columns + j * n, n);
        for (int64_t i = 0; i < n; i++) write_row(new_b + i * width, m + i * width, write_b[i], erase, add, width);
    }
    free(columns);
    return 0;
}

/* Backward through one row of the write M'_i = M_i - w t with t = e * M_i - a, for the row's gradient g: returns
 * dL/dw = -sum_j g_j t_j, and adds w g * M_i to `erase_sum` and w g to `add_sum` (dL/de and dL/da before their
 * signs and squashing functions). */
static REAL write_row_backward(const REAL *restrict row, const REAL *restrict g, REAL w,
                               const REAL *restrict erase, const REAL *restrict add, REAL *restrict erase_sum,
                               REAL *restrict add_sum, int64_t width) {
    REAL partial[CHUNK] = {0};
    const int64_t whole = width - width % CHUNK;
    for (int64_t j = 0; j < whole; j += CHUNK)
        for (int l = 0; l < CHUNK; l++) {
            partial[l] += g[j + l] * (row[j + l] * erase[j + l] - add[j + l]);
            erase_sum[j + l] += w * (g[j + l] * row[j + l]);
            add_sum[j + l] += w * g[j + l];
        }
    REAL total = sum_chunk(partial);
    for (int64_t j = whole; j < width; j++) {
        total += g[j] * (row[j] * erase[j] - add[j]);
        erase_sum[j] += w * (g[j] * row[j]);
        add_sum[j] += w * g[j];
    }
    return -total;
}

/* dL/dM_i for one row: through the write, g - w (g * e); through the reads and the keys' dot products,
 * sum_t c_t v_t with the `terms` = R + H coefficients c (w_h,i, then dL/d(k_h . M_i)) and vectors v (dL/dr_h, then
 * k_h); through the row's norm, -norm_term M_i. One loop over the row: inlined with a constant `terms` (the
 * switch in ntm_heads_backward), the compiler unrolls the sum and the loop becomes vector code. */
static inline void memory_row_gradient(REAL *restrict out, const REAL *restrict g, REAL w,
                                       const REAL *restrict erase, REAL norm_term, const REAL *restrict row,
                                       const REAL *coefficients, const REAL *const *vectors, int64_t terms,
                                       int64_t width) {
    for (int64_t j = 0; j < width; j++) {
        REAL products = 0;
        for (int64_t t = 0; t < terms; t++) products += coefficients[t] * vectors[t][j];
        out[j] = (g[j] - w * (g[j] * erase[j])) + products - norm_term * row[j];
    }
}

/* Backward through one head's addressing (Eqs. 6-9), from dL/dw (in `grad`, then used as scratch) back to the
 * cosines: fills dL/dw_prev, dL/d(shift logits), dL/dcos, and the gradients of beta, the gate and gamma in
 * `scalar_grads`. `gated_grad` is scratch of N numbers. */
static void address_head_backward(const Layout *s, const REAL *sv, int64_t h, const REAL *previous,
                                  const REAL *weights, REAL *restrict grad, REAL *restrict gated_grad,
                                  REAL *restrict grad_previous, REAL *grad_shifts, REAL *restrict grad_cosine,
                                  REAL *scalar_grads) {
    const int64_t n = s->locations, radius = s->radius;
    const REAL *scalars = sv + s->scalars + h * SCALARS, *shifts = sv + s->shifts + h * s->shift_size;
    const REAL *cosine = sv + s->cosine + h * n, *content = sv + s->content + h * n;
    const REAL *gated = sv + s->gated + h * n, *shifted = sv + s->shifted + h * n, *logs = sv + s->logs + h * n;
    const REAL beta = scalars[BETA], gate = scalars[GATE], gamma = scalars[GAMMA];

    /* sharpening, w = softmax(gamma log w~); the log's clamp passes no gradient */
    softmax_backward(weights, grad, n);
    const REAL grad_gamma = dot(grad, logs, n);
    for (int64_t i = 0; i < n; i++) grad[i] = shifted[i] >= TINY ? grad[i] * gamma / shifted[i] : 0;
    /* rotation: back through its adjoint; d/ds_k = sum_i grad_i w^g_{i-k} */
    rotate(gated_grad, grad, shifts, n, radius, 1);
    for (int64_t k = -radius; k <= radius; k++) grad_shifts[k + radius] = rotated_dot(grad, gated, k, n);
    softmax_backward(shifts, grad_shifts, s->shift_size);
    /* interpolation, w^g = w_prev + g (w^c - w_prev); `grad` now holds w^c - w_prev */
    for (int64_t i = 0; i < n; i++) {
        grad_previous[i] = gated_grad[i] * (1 - gate);
        grad[i] = content[i] - previous[i];
        grad_cosine[i] = gated_grad[i] * gate;
    }
    const REAL grad_gate = dot(gated_grad, grad, n);
    /* content, w^c = softmax(beta cos) */
    softmax_backward(content, grad_cosine, n);
    const REAL grad_beta = dot(grad_cosine, cosine, n);
    for (int64_t i = 0; i < n; i++) grad_cosine[i] *= beta;
    scalar_grads[0] = grad_beta;
    scalar_grads[1] = grad_gate;
    scalar_grads[2] = grad_gamma;
}

/* Returns 0, or 1 when scratch memory could not be allocated. `grad_memory_in` may be NULL (no memory gradient). */
static ALWAYS_INLINE int backward_pass(const REAL *raw, const REAL *memory, const REAL *previous_read,
                                       const REAL *previous_write, const REAL *read_weights,
                                       const REAL *write_weights, const REAL *erase_add, const REAL *saved,
                                       const REAL *grad_read_weights, const REAL *grad_write_weights,
                                       const REAL *grad_reads, const REAL *grad_memory, int64_t batch,
                                       int64_t read_heads, int64_t locations, int64_t width, int64_t shift_size,
                                       REAL *grad_raw, REAL *grad_memory_in, REAL *grad_previous_read,
                                       REAL *grad_previous_write) {
    const Layout s = layout(read_heads, locations, width, shift_size);
    const int64_t heads = s.heads, n = locations;
    /* per batch element: dL/dw (H, N), dL/dcos and then dL/d(k . M_i) (H, N), the gated-gradient scratch (N), the
     * per-location sum over heads of dL/dcos * cos (N), one row's coefficients of the memory gradient (R + H), whose
     * vectors are listed in `vectors`, and the memory transposed (width, N) */
    REAL *scratch = malloc(sizeof(REAL) * (size_t)(2 * heads * n + 2 * n + read_heads + heads + width * n));
    const REAL **vectors = malloc(sizeof(REAL *) * (size_t)(read_heads + heads));
    if (scratch == NULL || vectors == NULL) {
        free(scratch);
        free(vectors);
        return 1;
    }
    REAL *grad_w = scratch, *grad_dot = grad_w + heads * n, *gated_grad = grad_dot + heads * n;
    REAL *norm_sums = gated_grad + n, *coefficients = norm_sums + n, *columns = coefficients + read_heads + heads;

    for (int64_t b = 0; b < batch; b++) {
        const REAL *raw_b = raw + b * s.raw_width, *m = memory + b * n * width, *sv = saved + b * s.stride;
        const REAL *read_b = read_weights + b * read_heads * n, *write_b = write_weights + b * n;
        const REAL *erase = erase_add + b * 2 * width, *add = erase + width;
        const REAL *grad_reads_b = grad_reads + b * read_heads * width, *grad_m = grad_memory + b * n * width;
        const REAL *grad_read_b = grad_read_weights + b * read_heads * n, *grad_write_b = grad_write_weights + b * n;
        const REAL *memory_norms = sv + s.memory_norms;
        REAL *grad_raw_b = grad_raw + b * s.raw_width, *grad_erase = grad_raw_b + heads * s.per_head;
        REAL *grad_add = grad_erase + width;

        /* the write M' = M - w (e * M - a)^T, row by row; the reads r = w M, along the columns */
        fill_zero(grad_erase, 2 * width);
        for (int64_t i = 0; i < n; i++)
            grad_w[read_heads * n + i] = grad_write_b[i] + write_row_backward(m + i * width, grad_m + i * width,
                                                                              write_b[i], erase, add, grad_erase,
                                                                              grad_add, width);
        for (int64_t j = 0; j < width; j++) {
            grad_erase[j] = -grad_erase[j] * erase[j] * (1 - erase[j]);
            grad_add[j] *= 1 - add[j] * add[j];
        }
        transpose(columns, m, n, width);
        for (int64_t h = 0; h < read_heads; h++) {
            REAL *through_read = grad_dot;  /* scratch until the addressing fills it */
            fill_zero(through_read, n);
            for (int64_t j = 0; j < width; j++) axpy(through_read, grad_reads_b[h * width + j], columns + j * n, n);
            for (int64_t i = 0; i < n; i++) grad_w[h * n + i] = grad_read_b[h * n + i] + through_read[i];
        }

        /* addressing, head by head, back to the cosines; then to dL/d(k . M_i), the norms' terms and the keys */
        fill_zero(norm_sums, n);
        for (int64_t h = 0; h < heads; h++) {
            const REAL *scalars = sv + s.scalars + h * SCALARS, *cosine = sv + s.cosine + h * n;
            const REAL key_norm = scalars[KEY_NORM];
            REAL *grad_head = grad_raw_b + h * s.per_head, *grad_cosine = grad_dot + h * n, scalar_grads[3];
            address_head_backward(&s, sv, h, HEAD_ROW(previous_read, previous_write, b, h, s),
                                  HEAD_ROW(read_weights, write_weights, b, h, s), grad_w + h * n, gated_grad,
                                  HEAD_ROW(grad_previous_read, grad_previous_write, b, h, s), grad_head + width + 2,
                                  grad_cosine, scalar_grads);
            grad_head[width] = scalar_grads[0] * scalars[BETA_SLOPE];
            grad_head[width + 1] = scalar_grads[1] * scalars[GATE] * (1 - scalars[GATE]);
            grad_head[width + 2 + shift_size] = scalar_grads[2] * scalars[GAMMA_SLOPE];
            /* cos = (k . M_i) |k|^-1 |M_i|^-1: dL/dk = sum_i dL/d(k . M_i) M_i - (sum_i dL/dcos_i cos_i) k / |k|^2 */
            const REAL key_factor = dot(grad_cosine, cosine, n) * (key_norm * key_norm);
            for (int64_t i = 0; i < n; i++) {
                norm_sums[i] += grad_cosine[i] * cosine[i];
                grad_cosine[i] *= key_norm * memory_norms[i];  /* now dL/d(k . M_i) */
            }
            for (int64_t j = 0; j < width; j++)
                grad_head[j] = dot(grad_cosine, columns + j * n, n) - key_factor * raw_b[h * s.per_head + j];
        }

        /* the memory's gradient, row by row */
        if (grad_memory_in == NULL) continue;
        for (int64_t h = 0; h < read_heads; h++) vectors[h] = grad_reads_b + h * width;
        for (int64_t h = 0; h < heads; h++) vectors[read_heads + h] = raw_b + h * s.per_head;
        for (int64_t i = 0; i < n; i++) {
            const REAL *row = m + i * width;
            for (int64_t h = 0; h < read_heads; h++) coefficients[h] = read_b[h * n + i];
            for (int64_t h = 0; h < heads; h++) coefficients[read_heads + h] = grad_dot[h * n + i];
            REAL *out = grad_memory_in + (b * n + i) * width;
            const REAL *g = grad_m + i * width, w = write_b[i];
            const REAL norm_term = norm_sums[i] * (memory_norms[i] * memory_norms[i]);
            switch (read_heads + heads) {  /* the book's machines: one read head, so three terms */
            case 3: memory_row_gradient(out, g, w, erase, norm_term, row, coefficients, vectors, 3, width); break;
            case 5: memory_row_gradient(out, g, w, erase, norm_term, row, coefficients, vectors, 5, width); break;
            default:
                memory_row_gradient(out, g, w, erase, norm_term, row, coefficients, vectors, read_heads + heads,
                                    width);
            }
        }
    }
    free(scratch);
    free(vectors);
    return 0;
}

/* Memory rows 20 numbers wide, as in the paper's copy machine and every machine of the book. With the width a
 * constant the compiler unrolls each loop over a row into a few vector instructions, with no loop to set up per
 * row: the heads run about a fifth faster. Other widths run the same code with the width as a variable. */
enum { COMMON_WIDTH = 20 };

int NAME(ntm_heads_forward)(const REAL *raw, const REAL *memory, const REAL *previous_read,
                            const REAL *previous_write, int64_t batch, int64_t read_heads, int64_t locations,
                            int64_t width, int64_t shift_size, double eps, double max_sharpness, REAL *read_weights,
                            REAL *write_weights, REAL *reads, REAL *new_memory, REAL *erase_add, REAL *saved) {
    if (width == COMMON_WIDTH)
        return forward_pass(raw, memory, previous_read, previous_write, batch, read_heads, locations, COMMON_WIDTH,
                            shift_size, eps, max_sharpness, read_weights, write_weights, reads, new_memory,
                            erase_add, saved);
    return forward_pass(raw, memory, previous_read, previous_write, batch, read_heads, locations, width, shift_size,
                        eps, max_sharpness, read_weights, write_weights, reads, new_memory, erase_add, saved);
}

int NAME(ntm_heads_backward)(const REAL *raw, const REAL *memory, const REAL *previous_read,
                             const REAL *previous_write, const REAL *read_weights, const REAL *write_weights,
                             const REAL *erase_add, const REAL *saved, const REAL *grad_read_weights,
                             const REAL *grad_write_weights, const REAL *grad_reads, const REAL *grad_memory,
                             int64_t batch, int64_t read_heads, int64_t locations, int64_t width, int64_t shift_size,
                             REAL *grad_raw, REAL *grad_memory_in, REAL *grad_previous_read,
                             REAL *grad_previous_write) {
    if (width == COMMON_WIDTH)
        return backward_pass(raw, memory, previous_read, previous_write, read_weights, write_weights, erase_add,
                             saved, grad_read_weights, grad_write_weights, grad_reads, grad_memory, batch,
                             read_heads, locations, COMMON_WIDTH, shift_size, grad_raw, grad_memory_in,
                             grad_previous_read, grad_previous_write);
    return backward_pass(raw, memory, previous_read, previous_write, read_weights, write_weights, erase_add, saved,
                         grad_read_weights, grad_write_weights, grad_reads, grad_memory, batch, read_heads,
                         locations, width, shift_size, grad_raw, grad_memory_in, grad_previous_read,
                         grad_previous_write);
}
