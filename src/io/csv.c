/* The CSV reader: the whole file (plain or gzip, through zlib's transparent reader) is read
 * into one buffer and split in place into NUL-terminated cells, so a table costs its text
 * plus one pointer per cell. Quoted fields follow RFC 4180; the delimiter and the header
 * are detected unless given; numbers are parsed in the C locale whatever the process's. */
#include "core/core.h"
#include "io.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct clgrad_csv {
    char *text;      /* the file, cut into cells */
    char **cells;    /* rows * cols, row-major; row 0 is the header when has_header */
    int64_t *lines;  /* 1-based line of each stored row */
    int64_t rows;    /* stored rows, header included */
    int cols;
    int has_header;
};

static clgrad_status read_all(const char *path, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    clgrad_status s = b ? CLGRAD_OK : clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    while (s == CLGRAD_OK) {
        if (n == cap) {
            char *nb = cap < SIZE_MAX / 4 ? realloc(b, cap * 2 + 1) : NULL;
            if (!nb) {
                s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory reading %zu+ bytes", path, n);
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: read error: %s", path,
                             zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    if (s != CLGRAD_OK) {
        free(b);
        return s;
    }
    b[n] = '\0';
    if (memchr(b, '\0', n))
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: holds NUL bytes: not a text (CSV) file", path);
    if (s != CLGRAD_OK) {
        free(b);
        return s;
    }
    *out = b;
    *len = n;
    return CLGRAD_OK;
}

/* Growable arrays of cells and rows. */
typedef struct builder {
    char **cells;
    size_t n_cells, cap_cells;
    int64_t *lines;
    int64_t *row_len; /* fields per row */
    size_t n_rows, cap_rows;
} builder;

static int push_cell(builder *b, char *c)
{
    if (b->n_cells == b->cap_cells) {
        size_t cap = b->cap_cells ? b->cap_cells * 2 : 1024;
        char **nc = realloc(b->cells, cap * sizeof *nc);
        if (!nc) return -1;
        b->cells = nc;
        b->cap_cells = cap;
    }
    b->cells[b->n_cells++] = c;
    return 0;
}

static int push_row(builder *b, int64_t line, int64_t len)
{
    if (b->n_rows == b->cap_rows) {
        size_t cap = b->cap_rows ? b->cap_rows * 2 : 256;
        int64_t *nl = realloc(b->lines, cap * sizeof *nl);
        if (!nl) return -1;
        b->lines = nl;
        int64_t *nr = realloc(b->row_len, cap * sizeof *nr);
        if (!nr) return -1;
        b->row_len = nr;
        b->cap_rows = cap;
    }
    b->lines[b->n_rows] = line;
    b->row_len[b->n_rows++] = len;
    return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits text (from p) into cells. Each field is unquoted and NUL-terminated in place. */
static clgrad_status split(const char *path, char *p, char delim, int64_t line, builder *b)
{
    int ws = delim == ' ';
    while (*p) {
        /* A blank line (only spaces, tabs, CR) is skipped. */
        char *q = p;
        while (is_blank(*q) || *q == '\r') q++;
        if (*q == '\n' || *q == '\0') {
            line += *q == '\n';
            p = *q ? q + 1 : q;
            continue;
        }
        int64_t row_line = line, fields = 0;
        int end_row = 0;
        if (ws) p = q;
        while (!end_row) {
            if (!ws)
                while (is_blank(*p) && *p != delim) p++;
            char *start = p, *w = p;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (*p == '\0')
                        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: line %lld: a quoted field is not closed",
                                            path, (long long)row_line);
                    if (*p == '"') {
                        if (p[1] == '"') {
                            *w++ = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    if (*p == '\n') line++;
                    *w++ = *p++;
                }
                while (is_blank(*p) && *p != delim) p++;
                if (*p == '\r') p++;
                if (*p != '\0' && *p != '\n' && *p != delim && !(ws && is_blank(*p)))
                    return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                        "%s: line %lld: text after the closing quote of field %lld", path,
                                        (long long)line, (long long)fields + 1);
            } else {
                while (*p && *p != '\n' && *p != delim && !(ws && is_blank(*p))) p++;
                w = p;
                while (w > start && (is_blank(w[-1]) || w[-1] == '\r')) w--;
            }
            /* p is at the delimiter, a line end or the end of the text. */
            char c = *p;
            if (ws) {
                while (is_blank(*p) || *p == '\r') p++;
                c = *p == '\n' || *p == '\0' ? *p : ' ';
                if (c == ' ') p--; /* p at the last blank: the delimiter */
            }
            *w = '\0';
            if (push_cell(b, start) != 0) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
            fields++;
            if (c == '\n' || c == '\0') {
                end_row = 1;
                if (c == '\n') line++;
            }
            if (c) p++;
        }
        if (push_row(b, row_line, fields) != 0) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    }
    return CLGRAD_OK;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static clgrad_csv_value parse_number(const char *s, double *value)
{
    if (!*s || ieq(s, "na") || ieq(s, "n/a") || ieq(s, "null") || ieq(s, "?") || ieq(s, "none"))
        return CLGRAD_CSV_MISSING;
    char buf[128];
    size_t n = strlen(s);
    if (n >= sizeof buf) return CLGRAD_CSV_TEXT;
    memcpy(buf, s, n + 1);
    /* strtod follows the locale's decimal point; a CSV's is always '.'. */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1])
        for (char *c = buf; *c; c++)
            if (*c == '.') *c = dp[0];
    /* Only decimal forms: strtod would also take hex numbers. */
    for (const char *c = buf; *c; c++)
        if (*c == 'x' || *c == 'X') return CLGRAD_CSV_TEXT;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end) return CLGRAD_CSV_TEXT;
    if (value) *value = v;
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) return CLGRAD_CSV_NONFINITE;
    return CLGRAD_CSV_NUMBER;
}

clgrad_csv_value clgrad_csv_number(const clgrad_csv *t, int64_t row, int col, double *value)
{
    return parse_number(clgrad_csv_cell(t, row, col), value);
}

static char detect_delimiter(const char *p)
{
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (memchr(p, ',', n)) return ',';
    if (memchr(p, ';', n)) return ';';
    if (memchr(p, '\t', n)) return '\t';
    return ' ';
}

/* Past a UTF-8 byte order mark and the first skip lines of text; *line counts them. */
static char *skip_start(char *text, size_t len, int64_t skip, int64_t *line)
{
    char *p = text;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte order mark */
    for (int64_t k = 0; k < skip && *p; k++) {
        char *e = strchr(p, '\n');
        p = e ? e + 1 : p + strlen(p);
        (*line)++;
    }
    return p;
}

/* At least one row, every row as long as the first (or an error that says which line is
 * odd), and a column count that fits an int. */
static clgrad_status check_rows(const char *path, const builder *b, int64_t skip_lines)
{
    if (b->n_rows == 0)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: no rows (an empty file%s)", path,
                            skip_lines ? ", or every line skipped" : "");
    for (size_t r = 1; r < b->n_rows; r++) {
        if (b->row_len[r] == b->row_len[0]) continue;
        int first_odd = b->n_rows > 2 && r == 1 && b->row_len[2] == b->row_len[1];
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: line %lld has %lld fields but line %lld has %lld%s", path,
                            (long long)b->lines[r], (long long)b->row_len[r], (long long)b->lines[0],
                            (long long)b->row_len[0],
                            first_odd ? " (the first line differs from all that follow: if it is a note, "
                                        "not a header, skip it: skip_lines = 1)"
                                      : "");
    }
    if (b->row_len[0] > INT32_MAX) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: too many columns", path);
    return CLGRAD_OK;
}

clgrad_status clgrad_csv_load(const char *path, const clgrad_csv_opts *opts, clgrad_csv **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, path != NULL, "path is NULL");
    clgrad_csv_opts o = {0, CLGRAD_CSV_HEADER_AUTO, 0};
    if (opts) o = *opts;
    CLGRAD_CHECK_ARG(NULL, o.skip_lines >= 0, "skip_lines is negative");
    CLGRAD_CHECK_ARG(NULL, o.header >= CLGRAD_CSV_HEADER_AUTO && o.header <= CLGRAD_CSV_HEADER_NO,
                     "header is not a clgrad_csv_header");
    CLGRAD_CHECK_ARG(NULL, o.delimiter != '"' && o.delimiter != '\n' && o.delimiter != '\r',
                     "the delimiter cannot be a quote or a line end");

    char *text = NULL;
    size_t len = 0;
    CLGRAD_TRY(read_all(path, &text, &len));
    int64_t line = 1;
    char *p = skip_start(text, len, o.skip_lines, &line);
    char delim = o.delimiter ? o.delimiter : detect_delimiter(p);
    builder b = {0};
    clgrad_csv *t = NULL;
    clgrad_status s = split(path, p, delim, line, &b);
    if (s == CLGRAD_OK) s = check_rows(path, &b, o.skip_lines);
    if (s == CLGRAD_OK) {
        t = calloc(1, sizeof *t);
        if (!t) s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    }
    if (s == CLGRAD_OK) {
        t->text = text;
        t->cells = b.cells;
        t->lines = b.lines;
        t->rows = (int64_t)b.n_rows;
        t->cols = (int)b.row_len[0];
        text = NULL;
        b.cells = NULL;
        b.lines = NULL;
        if (o.header == CLGRAD_CSV_HEADER_YES) {
            t->has_header = 1;
        } else if (o.header == CLGRAD_CSV_HEADER_AUTO) {
            /* One row of names and nothing else is a header without data. */
            for (int c = 0; c < t->cols && !t->has_header; c++)
                t->has_header = parse_number(t->cells[c], NULL) == CLGRAD_CSV_TEXT &&
                                (t->rows < 2 || parse_number(t->cells[t->cols + c], NULL) == CLGRAD_CSV_NUMBER);
        }
        if (t->has_header && t->rows < 2) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: a header and no data rows", path);
        }
    }
    free(b.row_len);
    free(b.cells);
    free(b.lines);
    free(text);
    if (s != CLGRAD_OK) {
        clgrad_csv_release(t);
        return s;
    }
    *out = t;
    return CLGRAD_OK;
}

void clgrad_csv_release(clgrad_csv *t)
{
    if (!t) return;
    free(t->text);
    free(t->cells);
    free(t->lines);
    free(t);
}

int64_t clgrad_csv_rows(const clgrad_csv *t) { return t ? t->rows - t->has_header : 0; }

int clgrad_csv_cols(const clgrad_csv *t) { return t ? t->cols : 0; }

const char *clgrad_csv_name(const clgrad_csv *t, int col)
{
    if (!t || !t->has_header || col < 0 || col >= t->cols) return NULL;
    return t->cells[col];
}

int clgrad_csv_find(const clgrad_csv *t, const char *name)
{
    if (!t || !name) return -1;
    for (int c = 0; t->has_header && c < t->cols; c++)
        if (strcmp(t->cells[c], name) == 0) return c;
    char *end;
    errno = 0;
    long v = strtol(name, &end, 10);
    if (!*name || *end || errno) return -1;
    if (v < 0) v += t->cols;
    return v >= 0 && v < t->cols ? (int)v : -1;
}

const char *clgrad_csv_cell(const clgrad_csv *t, int64_t row, int col)
{
    if (!t || row < 0 || row >= clgrad_csv_rows(t) || col < 0 || col >= t->cols) return "";
    return t->cells[(size_t)(row + t->has_header) * (size_t)t->cols + (size_t)col];
}

int64_t clgrad_csv_line(const clgrad_csv *t, int64_t row)
{
    if (!t || row < 0 || row >= clgrad_csv_rows(t)) return 0;
    return t->lines[row + t->has_header];
}
