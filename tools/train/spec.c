/* Networks from a compact spec: tokens joined by '-', each one layer, e.g.
 *   conv32k3p1-relu-maxpool2-conv64k3p1-relu-maxpool2-flatten-fc128-relu-dropout0.5-fc
 * parsed into a layer list (net_parse, which names the bad token and lists what is
 * allowed), checked against the data's sample shape and built from the public nn API as a
 * Sequential whose children are "0", "1", ... in spec order (net_build), run (net_forward)
 * and summarised (net_print). The named models of --model are specs too (net_preset). */
#include "train.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Layer k's seed: distinct, fixed streams per layer (the same as the first clgrad-train
 * used, so the presets start from the same weights). */
static uint64_t layer_seed(uint64_t seed, int k) { return seed * 1000003u + (uint64_t)k * 7919u + 1; }

static const struct preset {
    const char *name, *spec, *optim;
} presets[] = {
    {"mlp", "fc256-relu-fc128-relu-fc", "sgd"},
    {"cnn", "conv32k3p1-relu-maxpool2-conv64k3p1-relu-maxpool2-flatten-fc128-relu-fc", "sgd"},
    {"lstm", "lstm128-fc", "adam"},
};

const char *net_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) return presets[i].spec;
    return NULL;
}

const char *net_default_optim(const train_net *net)
{
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].kind == L_RNN) return "adam";
    return "sgd";
}

/* What each token may look like, for error messages. */
static const char *const allowed =
    "  convC[kK][sS][pP][dD][gG]   convolution to C channels, kernel K (3), stride S (1), padding P (0),\n"
    "                              dilation D (1), groups G (1); e.g. conv32k3p1\n"
    "  maxpoolK[sS], avgpoolK[sS]  pooling, window K (2), stride S (K)\n"
    "  gap                         global average pooling (C, H, W) -> (C, 1, 1)\n"
    "  flatten                     (C, H, W) -> (C*H*W)\n"
    "  fcN, fc                     fully connected to N outputs; a last bare fc gets the number of\n"
    "                              classes or targets\n"
    "  lstmH[xL], gruH[xL], rnnH[xL], rnnreluH[xL]\n"
    "                              recurrent layer, hidden size H, L stacked layers (1); before a\n"
    "                              non-recurrent layer only the last time step is passed on\n"
    "  bn, batchnorm               batch normalisation (over channels or features)\n"
    "  ln, layernorm               layer normalisation (over each sample's last dims)\n"
    "  dropoutP                    dropout with probability P (0.5)\n"
    "  relu, leakyreluA, elu[A], gelu, gelutanh, silu, sigmoid, tanh, softplus, hardtanh,\n"
    "  softmax, logsoftmax         activations (leakyrelu's slope A 0.01, elu's alpha A 1)\n";

const char *net_allowed_tokens(void) { return allowed; }

static void errf(char *err, size_t cap, const char *spec, size_t at, size_t len, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The spec with the bad token underlined. */
    char under[1024];
    size_t k = 0;
    for (size_t i = 0; i < at && k + 1 < sizeof under; i++) under[k++] = ' ';
    for (size_t i = 0; i < (len ? len : 1) && k + 1 < sizeof under; i++) under[k++] = '^';
    under[k] = '\0';
    snprintf(err, cap, "%s\n    %s\n    %s\nallowed layers (joined by '-'):\n%s", msg, spec, under, allowed);
}

/* Reads a whole number after a letter prefix like "k" in "k3"; returns the characters
 * used, 0 when there is no number. */
static size_t read_uint(const char *p, size_t n, long *v)
{
    size_t i = 0;
    long x = 0;
    while (i < n && isdigit((unsigned char)p[i]) && x < 100000000) x = x * 10 + (p[i++] - '0');
    if (i == 0 || (i < n && isdigit((unsigned char)p[i]))) return 0;
    *v = x;
    return i;
}

static size_t read_float(const char *p, size_t n, double *v)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)buf[i]) && buf[i] != '.') return 0;
    char *end;
    *v = strtod(buf, &end);
    return (size_t)(end - buf);
}

/* Does the token t (n chars) start with word? Then *rest is what follows. */
static int starts(const char *t, size_t n, const char *word, size_t *rest)
{
    size_t w = strlen(word);
    if (n < w || strncmp(t, word, w) != 0) return 0;
    *rest = w;
    return 1;
}

/* Parses letter-number options ("k3", "s2", ...) from t[i..n) into vals (by letter index in
 * letters); returns 0 on success, -1 on a bad part. */
static int read_opts(const char *t, size_t i, size_t n, const char *letters, long *vals)
{
    while (i < n) {
        const char *l = strchr(letters, t[i]);
        long v;
        size_t used;
        if (!l || !t[i] || !(used = read_uint(t + i + 1, n - i - 1, &v))) return -1;
        vals[l - letters] = v;
        i += 1 + used;
    }
    return 0;
}

static const struct act_name {
    const char *name;
    clgrad_activation act;
} acts[] = {
    {"relu", CLGRAD_ACT_RELU},       {"leakyrelu", CLGRAD_ACT_LEAKY_RELU}, {"elu", CLGRAD_ACT_ELU},
    {"gelutanh", CLGRAD_ACT_GELU_TANH}, {"gelu", CLGRAD_ACT_GELU},      {"silu", CLGRAD_ACT_SILU},
    {"sigmoid", CLGRAD_ACT_SIGMOID}, {"tanh", CLGRAD_ACT_TANH},           {"softplus", CLGRAD_ACT_SOFTPLUS},
    {"hardtanh", CLGRAD_ACT_HARDTANH}, {"softmax", CLGRAD_ACT_SOFTMAX},  {"logsoftmax", CLGRAD_ACT_LOG_SOFTMAX},
};

/* One token into *L; returns 0, or -1 with the reason in why. */
static int parse_token(const char *t, size_t n, net_layer *L, char *why, size_t cap)
{
    size_t r;
    memset(L, 0, sizeof *L);
    snprintf(L->token, sizeof L->token, "%.*s", (int)(n < sizeof L->token ? n : sizeof L->token - 1), t);
    if (starts(t, n, "conv", &r)) {
        long v[6] = {0, 3, 1, 0, 1, 1}; /* C k s p d g */
        long c;
        size_t u = read_uint(t + r, n - r, &c);
        if (!u || c < 1) {
            snprintf(why, cap, "conv needs its output channels first: conv32, conv64k3p1");
            return -1;
        }
        v[0] = c;
        if (read_opts(t, r + u, n, " kspdg", v) != 0 || v[1] < 1 || v[2] < 1 || v[4] < 1 || v[5] < 1) {
            snprintf(why, cap, "conv options are k (kernel), s (stride), p (padding), d (dilation), g (groups), "
                               "each followed by a whole number (k, s, d, g >= 1): conv32k3s1p1");
            return -1;
        }
        L->kind = L_CONV;
        L->width = v[0], L->k = (int)v[1], L->s = (int)v[2], L->p = (int)v[3], L->d = (int)v[4], L->g = (int)v[5];
        return 0;
    }
    if (starts(t, n, "maxpool", &r) || starts(t, n, "avgpool", &r)) {
        long v[2] = {2, 0};
        size_t u = r < n && isdigit((unsigned char)t[r]) ? read_uint(t + r, n - r, &v[0]) : 0;
        long sv[2] = {0, 0};
        if ((r < n && isdigit((unsigned char)t[r]) && !u) || v[0] < 1 ||
            read_opts(t, r + u, n, " s", sv) != 0 || (sv[1] == 0 && r + u < n)) {
            snprintf(why, cap, "pooling is maxpoolK or avgpoolK with an optional sS: maxpool2, avgpool3s2");
            return -1;
        }
        L->kind = t[0] == 'm' ? L_MAXPOOL : L_AVGPOOL;
        L->k = (int)v[0];
        L->s = sv[1] ? (int)sv[1] : L->k;
        return 0;
    }
    if (n == 3 && !strncmp(t, "gap", 3)) { L->kind = L_GAP; return 0; }
    if (n == 7 && !strncmp(t, "flatten", 7)) { L->kind = L_FLATTEN; return 0; }
    if ((n == 2 && !strncmp(t, "bn", 2)) || (n == 9 && !strncmp(t, "batchnorm", 9))) { L->kind = L_BN; return 0; }
    if ((n == 2 && !strncmp(t, "ln", 2)) || (n == 9 && !strncmp(t, "layernorm", 9))) { L->kind = L_LN; return 0; }
    if (starts(t, n, "fc", &r)) {
        long w = 0;
        if (r < n && (!read_uint(t + r, n - r, &w) || r + read_uint(t + r, n - r, &w) != n || w < 1)) {
            snprintf(why, cap, "fc is fcN with N >= 1 outputs (fc128), or a bare fc last");
            return -1;
        }
        L->kind = L_FC;
        L->width = w; /* 0: from the data */
        return 0;
    }
    if (starts(t, n, "dropout", &r)) {
        double p = 0.5;
        if (r < n && (read_float(t + r, n - r, &p) != n - r || !(p >= 0 && p < 1))) {
            snprintf(why, cap, "dropout is dropoutP with 0 <= P < 1: dropout0.5");
            return -1;
        }
        L->kind = L_DROPOUT;
        L->f = p;
        return 0;
    }
    if (starts(t, n, "bi", &r) && n > 2 && (t[2] == 'l' || t[2] == 'g' || t[2] == 'r')) {
        snprintf(why, cap, "bidirectional recurrent layers are not in the library (its RNN, LSTM and GRU run one "
                           "direction)");
        return -1;
    }
    static const struct { const char *name; clgrad_rnn_kind kind; } rnns[] = {
        {"lstm", CLGRAD_LSTM}, {"gru", CLGRAD_GRU}, {"rnnrelu", CLGRAD_RNN_RELU}, {"rnn", CLGRAD_RNN_TANH}};
    for (size_t i = 0; i < sizeof rnns / sizeof rnns[0]; i++) {
        if (!starts(t, n, rnns[i].name, &r)) continue;
        long h = 0, v[2] = {0, 1};
        size_t u = read_uint(t + r, n - r, &h);
        if (!u || h < 1 || read_opts(t, r + u, n, " x", v) != 0 || v[1] < 1 || v[1] > 16) {
            snprintf(why, cap, "%s is %sH[xL]: hidden size H >= 1, L stacked layers (1 .. 16): %s128, %s64x2",
                     rnns[i].name, rnns[i].name, rnns[i].name, rnns[i].name);
            return -1;
        }
        L->kind = L_RNN;
        L->rnn = rnns[i].kind;
        L->width = h;
        L->layers = (int)v[1];
        return 0;
    }
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (!starts(t, n, acts[i].name, &r)) continue;
        double a = acts[i].act == CLGRAD_ACT_LEAKY_RELU ? 0.01 : 1.0;
        int takes = acts[i].act == CLGRAD_ACT_LEAKY_RELU || acts[i].act == CLGRAD_ACT_ELU;
        if (r < n && (!takes || read_float(t + r, n - r, &a) != n - r)) {
            if (!takes) continue; /* "gelutanh" after "gelu" is tried in the table's order */
            snprintf(why, cap, "%s takes an optional number: %s0.1", acts[i].name, acts[i].name);
            return -1;
        }
        L->kind = L_ACT;
        L->act = acts[i].act;
        L->f = a;
        return 0;
    }
    snprintf(why, cap, "unknown layer '%.*s'", (int)n, t);
    return -1;
}

int net_parse(const char *spec, train_net *net, char *err, size_t cap)
{
    memset(net, 0, sizeof *net);
    if (strlen(spec) >= sizeof net->spec) {
        snprintf(err, cap, "--net: the spec is longer than %zu characters", sizeof net->spec - 1);
        return -1;
    }
    snprintf(net->spec, sizeof net->spec, "%s", spec);
    const char *p = spec;
    for (;;) {
        const char *e = strchr(p, '-');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t at = (size_t)(p - spec);
        if (n == 0) {
            errf(err, cap, spec, at, 1, "--net: an empty layer at character %zu (two '-' in a row, or one at an end)",
                 at + 1);
            return -1;
        }
        if (net->n == NET_MAX_LAYERS) {
            errf(err, cap, spec, at, n, "--net: more than %d layers", NET_MAX_LAYERS);
            return -1;
        }
        char why[256];
        if (parse_token(p, n, &net->layers[net->n], why, sizeof why) != 0) {
            errf(err, cap, spec, at, n, "--net: bad layer '%.*s' (layer %d, character %zu): %s", (int)n, p,
                 net->n + 1, at + 1, why);
            return -1;
        }
        net->layers[net->n].at = (int)at;
        net->n++;
        if (!e) break;
        p = e + 1;
    }
    net_layer *last = &net->layers[net->n - 1];
    if (last->kind != L_FC) {
        errf(err, cap, spec, (size_t)last->at, strlen(last->token),
             "--net: the last layer must be fc (a bare fc takes its width from the number of classes or "
             "targets), not '%s'", last->token);
        return -1;
    }
    for (int i = 0; i + 1 < net->n; i++)
        if (net->layers[i].kind == L_FC && net->layers[i].width == 0) {
            errf(err, cap, spec, (size_t)net->layers[i].at, 2,
                 "--net: only the last fc may leave out its width (fc128)");
            return -1;
        }
    /* A recurrent layer hands on its whole sequence to another recurrent layer, and its
     * last step to anything else. */
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].kind == L_RNN)
            net->layers[i].last_only = !(i + 1 < net->n && net->layers[i + 1].kind == L_RNN);
    return 0;
}

static void shape_str(char *buf, size_t cap, int nd, const int64_t *d)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "(");
    for (int i = 0; i < nd && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", d[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* The output shape of layer L on a per-sample input shape; -1 and a message when L cannot
 * take that shape. */
static int out_shape(const net_layer *L, int first, int nd, const int64_t *in, int *ond, int64_t *out, char *why,
                     size_t cap)
{
    char s[128];
    shape_str(s, sizeof s, nd, in);
    memcpy(out, in, sizeof(int64_t) * (size_t)nd);
    *ond = nd;
    switch (L->kind) {
    case L_CONV: {
        if (nd != 3) {
            snprintf(why, cap, "%s needs images (C, H, W), its input is %s", L->token, s);
            return -1;
        }
        if (in[0] % L->g || L->width % L->g) {
            snprintf(why, cap, "%s: groups %d must divide the %" PRId64 " input and %" PRId64 " output channels",
                     L->token, L->g, in[0], L->width);
            return -1;
        }
        int64_t ek = (int64_t)L->d * (L->k - 1) + 1;
        int64_t h = (in[1] + 2 * L->p - ek) / L->s + 1, w = (in[2] + 2 * L->p - ek) / L->s + 1;
        if (in[1] + 2 * L->p < ek || in[2] + 2 * L->p < ek) {
            snprintf(why, cap, "%s: its %" PRId64 "x%" PRId64 " window does not fit its input %s", L->token, ek, ek, s);
            return -1;
        }
        out[0] = L->width, out[1] = h, out[2] = w;
        return 0;
    }
    case L_MAXPOOL:
    case L_AVGPOOL:
        if (nd != 3 || in[1] < L->k || in[2] < L->k) {
            snprintf(why, cap, "%s needs images (C, H, W) of at least %dx%d, its input is %s", L->token, L->k, L->k, s);
            return -1;
        }
        out[1] = (in[1] - L->k) / L->s + 1, out[2] = (in[2] - L->k) / L->s + 1;
        return 0;
    case L_GAP:
        if (nd != 3) {
            snprintf(why, cap, "gap needs images (C, H, W), its input is %s", s);
            return -1;
        }
        out[1] = out[2] = 1;
        return 0;
    case L_FLATTEN:
        *ond = 1;
        for (int i = 1; i < nd; i++) out[0] *= in[i];
        return 0;
    case L_FC:
        if (nd != 1 && !first) {
            snprintf(why, cap, "%s needs a flat input (F), its input is %s: put flatten before it", L->token, s);
            return -1;
        }
        *ond = 1;
        out[0] = L->width;
        return 0;
    case L_RNN:
        if (nd != 2) {
            snprintf(why, cap, "%s needs sequences (T, F), its input is %s", L->token, s);
            return -1;
        }
        if (L->last_only) {
            *ond = 1;
            out[0] = L->width;
        } else {
            out[1] = L->width;
        }
        return 0;
    case L_BN:
        if (nd == 2) {
            snprintf(why, cap, "bn takes (F) features or (C, H, W) images, its input is %s", s);
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* The shape the first layer wants of a sample of shape in: a flat vector for fc, (T, F)
 * for a recurrent layer (one-channel images: the rows are the steps), the sample as it is
 * otherwise. */
int net_input_shape(const train_net *net, int nd, const int64_t *in, int64_t *out)
{
    const net_layer *L = &net->layers[0];
    if (L->kind == L_FC) {
        out[0] = 1;
        for (int i = 0; i < nd; i++) out[0] *= in[i];
        return 1;
    }
    if (L->kind == L_RNN && nd == 3 && in[0] == 1) {
        out[0] = in[1], out[1] = in[2];
        return 2;
    }
    memcpy(out, in, sizeof(int64_t) * (size_t)nd);
    return nd;
}

clgrad_status net_build(clgrad_context *ctx, train_net *net, int nd, const int64_t *sample, int n_out,
                        uint64_t seed, clgrad_module **out, char *err, size_t cap)
{
    *out = NULL;
    int64_t cur[8];
    int cnd = net_input_shape(net, nd, sample, cur);
    net->in_nd = cnd;
    memcpy(net->in_shape, cur, sizeof(int64_t) * (size_t)cnd);
    net_layer *last = &net->layers[net->n - 1];
    if (last->width == 0) last->width = n_out;
    if (last->width != n_out) {
        errf(err, cap, net->spec, (size_t)last->at, strlen(last->token),
             "--net: the last layer has %" PRId64 " outputs but the data has %d %s: end with a bare fc",
             last->width, n_out, "classes or targets");
        return CLGRAD_ERR_INVALID_ARG;
    }
    clgrad_module *seq = NULL;
    clgrad_status s = clgrad_sequential_create(ctx, &seq);
    for (int i = 0; s == CLGRAD_OK && i < net->n; i++) {
        net_layer *L = &net->layers[i];
        int ond;
        int64_t o[8];
        char why[256];
        if (out_shape(L, i == 0, cnd, cur, &ond, o, why, sizeof why) != 0) {
            errf(err, cap, net->spec, (size_t)L->at, strlen(L->token), "--net: layer %d: %s", i + 1, why);
            s = CLGRAD_ERR_SHAPE;
            break;
        }
        clgrad_module *m = NULL;
        uint64_t ls = layer_seed(seed, i);
        switch (L->kind) {
        case L_CONV: {
            clgrad_conv2d_params p = {.stride = {L->s, L->s}, .padding = {L->p, L->p}, .dilation = {L->d, L->d},
                                      .groups = L->g};
            s = clgrad_conv2d_create(ctx, cur[0], L->width, L->k, L->k, &p, 1, ls, &m);
            break;
        }
        case L_MAXPOOL:
        case L_AVGPOOL: {
            clgrad_pool2d_params p = {.kernel = {L->k, L->k}, .stride = {L->s, L->s}};
            s = L->kind == L_MAXPOOL ? clgrad_max_pool2d_create(ctx, &p, &m) : clgrad_avg_pool2d_create(ctx, &p, &m);
            break;
        }
        case L_GAP: s = clgrad_adaptive_avg_pool2d_create(ctx, 1, 1, &m); break;
        case L_FLATTEN: s = clgrad_flatten_create(ctx, 1, -1, &m); break;
        case L_FC: {
            int64_t in_f = 1;
            for (int k = 0; k < cnd; k++) in_f *= cur[k];
            s = clgrad_linear_create(ctx, in_f, L->width, 1, ls, &m);
            break;
        }
        case L_RNN: s = clgrad_rnn_create(ctx, L->rnn, cur[1], L->width, L->layers, 1, 1, ls, &m); break;
        case L_BN:
            s = cnd == 3 ? clgrad_batch_norm2d_create(ctx, cur[0], 1e-5f, 0.1f, 1, &m)
                         : clgrad_batch_norm1d_create(ctx, cur[0], 1e-5f, 0.1f, 1, &m);
            break;
        case L_LN: s = clgrad_layer_norm_create(ctx, cnd == 3 ? 3 : 1, cnd == 3 ? cur : cur + cnd - 1, 1e-5f, 1, &m); break;
        case L_DROPOUT: s = clgrad_dropout_create(ctx, (float)L->f, ls, &m); break;
        case L_ACT: {
            float p0 = (float)L->f;
            if (L->act == CLGRAD_ACT_SOFTMAX || L->act == CLGRAD_ACT_LOG_SOFTMAX) p0 = -1;
            if (L->act == CLGRAD_ACT_SOFTPLUS) p0 = 1;
            if (L->act == CLGRAD_ACT_HARDTANH) p0 = -1;
            s = clgrad_activation_create(ctx, L->act, p0, L->act == CLGRAD_ACT_SOFTPLUS ? 20.0f : 1.0f, &m);
            break;
        }
        }
        if (s == CLGRAD_OK) s = clgrad_sequential_add(seq, m);
        if (s != CLGRAD_OK) {
            snprintf(err, cap, "cannot build layer %d (%s): %s: %s", i + 1, L->token, clgrad_status_name(s),
                     clgrad_last_error(ctx));
            break;
        }
        L->out_nd = ond;
        memcpy(L->out_shape, o, sizeof(int64_t) * (size_t)ond);
        int64_t np = 0;
        for (int k = 0; k < clgrad_module_param_count(m); k++) np += clgrad_tensor_numel(clgrad_module_param(m, k, NULL));
        L->n_params = np;
        cnd = ond;
        memcpy(cur, o, sizeof(int64_t) * (size_t)ond);
    }
    if (s != CLGRAD_OK) {
        clgrad_module_release(seq);
        return s;
    }
    *out = seq;
    return CLGRAD_OK;
}

clgrad_status net_forward(const train_net *net, clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    *out = NULL;
    int rnn = 0;
    for (int i = 0; i < net->n; i++) rnn |= net->layers[i].kind == L_RNN;
    if (!rnn) return clgrad_module_forward(m, x, out);
    clgrad_tensor *cur = clgrad_tensor_retain(x);
    clgrad_status s = CLGRAD_OK;
    for (int i = 0; s == CLGRAD_OK && i < net->n; i++) {
        const net_layer *L = &net->layers[i];
        clgrad_module *child = clgrad_module_child(m, i, NULL);
        clgrad_tensor *next = NULL;
        if (L->kind != L_RNN) {
            s = clgrad_module_forward(child, cur, &next);
        } else if (!L->last_only) {
            s = clgrad_rnn_forward(child, cur, NULL, NULL, &next, NULL, NULL);
        } else {
            /* The last layer's final state: h_n (L, N, H) -> (N, H). */
            clgrad_tensor *seq = NULL, *h_n = NULL, *top = NULL;
            s = clgrad_rnn_forward(child, cur, NULL, NULL, &seq, &h_n, NULL);
            clgrad_tensor_release(seq);
            if (s == CLGRAD_OK && L->layers > 1) s = clgrad_slice(h_n, 0, L->layers - 1, L->layers, 1, &top);
            else if (s == CLGRAD_OK) top = clgrad_tensor_retain(h_n);
            if (s == CLGRAD_OK) {
                int64_t shape[2] = {clgrad_tensor_dim(h_n, 1), clgrad_tensor_dim(h_n, 2)};
                s = clgrad_reshape(top, 2, shape, &next);
            }
            clgrad_tensor_release(top);
            clgrad_tensor_release(h_n);
        }
        clgrad_tensor_release(cur);
        cur = next;
    }
    if (s != CLGRAD_OK) {
        clgrad_tensor_release(cur);
        return s;
    }
    *out = cur;
    return CLGRAD_OK;
}

void net_print(FILE *f, const train_net *net)
{
    char s[128];
    int64_t total = 0;
    shape_str(s, sizeof s, net->in_nd, net->in_shape);
    fprintf(f, "network %s\n  %-4s %-16s %-22s %12s\n", net->spec, "#", "layer", "output shape", "parameters");
    fprintf(f, "  %-4s %-16s %-22s %12s\n", "", "input", s, "");
    for (int i = 0; i < net->n; i++) {
        const net_layer *L = &net->layers[i];
        shape_str(s, sizeof s, L->out_nd, L->out_shape);
        char tok[80];
        snprintf(tok, sizeof tok, "%s%s", L->token, L->kind == L_RNN && L->last_only ? " (last)" : "");
        fprintf(f, "  %-4d %-16s %-22s %12" PRId64 "\n", i, tok, s, L->n_params);
        total += L->n_params;
    }
    fprintf(f, "  total parameters: %" PRId64 "\n", total);
}
