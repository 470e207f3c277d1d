/* clgrad-train on several ranks (clgrad/dist.h): one model trained by several devices of
 * this process (--devices, one thread and one context per device) or by the processes of
 * an MPI job (mpirun, srun; one process per rank). Every rank builds the same network,
 * takes its share of every global batch (the distributed sampler's), and the group
 * averages the gradients, so each step equals one process's step on the whole batch.
 * Rank 0 alone prints, logs, plots and writes checkpoints; the ranks share evaluation.
 * A rank that fails tells the others through the group, and every rank ends with an
 * error that names it. */
#include "train.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int train_quiet_rank = 0;

typedef char dev_sel[32]; /* a "P:D" selector */

/* The --devices of an in-process group, for the header. */
static char local_devices_text[512];

/* ---------------------------------------------------------------------------------------
 * Devices and launchers
 * ------------------------------------------------------------------------------------- */

/* --devices A,B,...: each entry a number (the N-th device clgrad-probe lists) or a selector
 * as --device takes (P:D, gpu, cpu, a name); *out gets one "P:D" per entry. Returns 0 or an
 * exit code (the message printed). */
static int parse_devices(const char *spec, dev_sel **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    clgrad_device_info *list = NULL;
    int n = 0;
    clgrad_status s = clgrad_devices_list(&list, &n);
    if (s != CLGRAD_OK) return run_fail(NULL, s, "cannot list the devices");
    size_t len = strlen(spec);
    char *buf = malloc(len + 1);
    dev_sel *sel = calloc(len / 2 + 1, sizeof *sel); /* entries are at least one character and a comma */
    int rc = 0, k = 0;
    if (!buf || !sel) rc = run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    if (rc == 0) memcpy(buf, spec, len + 1);
    const char *p = buf;
    while (rc == 0) {
        const char *comma = strchr(p, ',');
        size_t tl = comma ? (size_t)(comma - p) : strlen(p);
        char tok[128];
        if (tl == 0 || tl >= sizeof tok) {
            fprintf(stderr, "clgrad-train: --devices: %s entry in '%s' (want device numbers or selectors joined by "
                            "',', e.g. 0,1)\n", tl == 0 ? "an empty" : "a too long", spec);
            rc = TRAIN_EXIT_USAGE;
            break;
        }
        memcpy(tok, p, tl);
        tok[tl] = '\0';
        int digits = 1;
        for (size_t i = 0; i < tl; i++) digits &= isdigit((unsigned char)tok[i]) != 0;
        int idx = -1;
        if (digits) {
            long v = strtol(tok, NULL, 10);
            if (v >= n) {
                fprintf(stderr, "clgrad-train: --devices: there is no device %s: clgrad-probe lists %d device%s "
                                "(numbers 0 to %d, or P:D selectors)\n", tok, n, n == 1 ? "" : "s", n - 1);
                rc = TRAIN_EXIT_USAGE;
                break;
            }
            idx = (int)v;
        } else if ((s = clgrad_devices_select(list, n, tok, &idx)) != CLGRAD_OK) {
            fprintf(stderr, "clgrad-train: --devices: '%s': %s\n", tok, clgrad_last_error(NULL));
            rc = TRAIN_EXIT_USAGE;
            break;
        }
        snprintf(sel[k++], sizeof sel[0], "%d:%d", list[idx].platform_index, list[idx].device_index);
        if (!comma) break;
        p = comma + 1;
    }
    free(buf);
    clgrad_devices_free(list);
    if (rc != 0) {
        free(sel);
        return rc;
    }
    *out = sel;
    *n_out = k;
    return 0;
}

/* How many processes an MPI launcher (mpirun, mpiexec, srun with PMI) started: > 0 the
 * number, 0 started by one but the number unknown, -1 not started by one. *var names the
 * variable that told. */
static int mpi_launch_size(const char **var)
{
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", NULL};
    static const char *const ranks[] = {"PMIX_RANK", "PMI_RANK", NULL};
    for (int i = 0; sizes[i]; i++) {
        const char *v = getenv(sizes[i]);
        if (v && v[0]) {
            *var = sizes[i];
            int n = atoi(v);
            return n > 0 ? n : 0;
        }
    }
    for (int i = 0; ranks[i]; i++)
        if (getenv(ranks[i])) {
            *var = ranks[i];
            return 0;
        }
    *var = NULL;
    return -1;
}

static clgrad_dist_options dist_options(const train_args *a)
{
    clgrad_dist_options o = clgrad_dist_defaults();
    if (a->dist_timeout > 0) o.timeout_seconds = a->dist_timeout;
    if (a->sync_bn) o.flags |= CLGRAD_DIST_SYNC_BATCH_NORM;
    return o;
}

/* ---------------------------------------------------------------------------------------
 * Collectives of the training loop
 * ------------------------------------------------------------------------------------- */

clgrad_status dist_sum(run *r, clgrad_status local, double *v, size_t n)
{
    if (!r->g) return local;
    if (local != CLGRAD_OK) return clgrad_dist_check(r->g, local);
    clgrad_status s = clgrad_dist_allreduce_sum(r->g, v, n);
    if (s != CLGRAD_OK) r->remote_failure = 1;
    return s;
}

clgrad_status dist_sync_step(run *r, clgrad_status local)
{
    clgrad_status s = clgrad_dist_sync(r->g, local);
    if (s != CLGRAD_OK && local == CLGRAD_OK) r->remote_failure = 1;
    return s;
}

int dist_fault_here(const run *r)
{
    const char *v = getenv("CLGRAD_TRAIN_FAULT");
    int rank = -1;
    long long step = -1;
    char tail;
    return v && sscanf(v, "bad-batch:%d:%lld%c", &rank, &step, &tail) == 2 && rank == r->rank &&
           step == r->step + 1;
}

void dist_print_header(const run *r)
{
    const char *backend = clgrad_dist_backend(r->g);
    if (strcmp(backend, "local") == 0)
        printf("data parallel: %d ranks in this process (devices %s), ", r->size, local_devices_text);
    else
        printf("data parallel: %d MPI ranks (%d on this machine), ", r->size, clgrad_dist_local_size(r->g));
    printf("global batch %d = %d x %d per rank, %" PRId64 " steps per epoch; rank 0 logs and checkpoints\n", r->batch,
           r->size, r->local_batch, run_steps_per_epoch(r));
    fflush(stdout);
}

/* Rank 0, after the run: what averaging the gradients cost per step. */
static void print_stats(const run *r)
{
    clgrad_dist_stats st;
    if (clgrad_dist_get_stats(r->g, &st) != CLGRAD_OK || st.steps == 0) return;
    double k = 1e3 / (double)st.steps;
    printf("gradient averaging: %d ranks, %" PRId64 " steps, %.2f MB in %d bucket%s per step; per step %.2f ms of "
           "collectives (%.2f ms of them while backward ran), %.2f ms waiting at the end of backward\n",
           r->size, st.steps, (double)st.grad_bytes / 1e6, st.buckets, st.buckets == 1 ? "" : "s",
           st.total_comm_seconds * k, st.total_overlap_seconds * k, st.total_sync_wait_seconds * k);
    fflush(stdout);
}

/* Resuming a checkpoint of another world size: the global batch and its order do not
 * depend on it, so the run goes on as it would have. Said once, by rank 0. */
static void world_note(const run *r, const train_job *j)
{
    const char *v = r->a->resume ? clgrad_checkpoint_meta_get(j->meta, "train.world_size") : NULL;
    if (!v || r->rank != 0 || r->a->quiet) return;
    int was = atoi(v);
    if (was < 1 || was == r->size) return;
    printf("note: %s was written by %d rank%s and this run has %d: the global batch (%d) and the order of its "
           "samples are the same, so training goes on as it would have%s\n", r->a->resume, was, was == 1 ? "" : "s",
           r->size, r->batch, clgrad_module_buffer_count(r->model) > 0 && !r->a->sync_bn
                                   ? " (batch norm's running statistics are rank 0's)" : "");
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------------
 * A rank
 * ------------------------------------------------------------------------------------- */

/* Small whole numbers (below 2^20) that stand for a setting, so that sums of them and of
 * their squares stay exact in doubles. */
static double fold(uint64_t v)
{
    return (double)((v ^ (v >> 20) ^ (v >> 40)) & 0xFFFFF);
}

/* Every rank reached the end of its set-up (rc its exit code so far): each learns whether
 * all did and whether they all read the same settings and data. A rank that failed printed
 * why; rank 0 says which one stops the run. Returns 0 or the exit code. *agreed is 1 when
 * every rank knows the outcome (nothing more to tell). */
static int agree_setup(run *r, int rc, int *agreed)
{
    enum { K = 7 };
    const char *names[K] = {"training samples", "global batch", "epochs", "steps per epoch", "network",
                            "seed", "start step"};
    double cfg[K] = {0};
    if (rc == 0) {
        uint64_t h = 1469598103934665603ull;
        for (const char *c = r->net.spec; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        uint64_t raw[K] = {(uint64_t)clgrad_dataset_count(r->td.train), (uint64_t)r->batch, (uint64_t)r->a->epochs,
                           (uint64_t)run_steps_per_epoch(r), h, r->seed, (uint64_t)r->step};
        for (int k = 0; k < K; k++) cfg[k] = fold(raw[k]);
    }
    size_t n = (size_t)r->size + 2 * K;
    double *v = calloc(n, sizeof *v);
    *agreed = 0;
    if (!v) {
        clgrad_dist_check(r->g, CLGRAD_ERR_HOST_MEMORY);
        return rc ? rc : TRAIN_EXIT_FAIL;
    }
    v[r->rank] = rc;
    for (int k = 0; rc == 0 && k < K; k++) v[r->size + k] = cfg[k], v[r->size + K + k] = cfg[k] * cfg[k];
    clgrad_status s = clgrad_dist_allreduce_sum(r->g, v, n);
    if (s != CLGRAD_OK) {
        if (rc == 0 && (r->rank == 0 || r->size == 1))
            fprintf(stderr, "clgrad-train: rank %d of %d: the ranks could not agree to start: %s: %s\n", r->rank,
                    r->size, clgrad_status_name(s), clgrad_last_error(NULL));
        free(v);
        *agreed = 1;
        return rc ? rc : TRAIN_EXIT_FAIL;
    }
    *agreed = 1;
    int first = -1;
    for (int i = 0; i < r->size && first < 0; i++)
        if (v[i] != 0) first = i;
    if (first >= 0) {
        if (rc == 0 && r->rank == 0)
            fprintf(stderr, "clgrad-train: rank %d of %d could not start (its message is above), so no rank trains\n",
                    first, r->size);
        rc = rc ? rc : (int)v[first];
        free(v);
        return rc;
    }
    for (int k = 0; k < K; k++) {
        /* all equal exactly when the sum is size times this rank's and so is the sum of squares */
        if (v[r->size + k] != r->size * cfg[k] || v[r->size + K + k] != r->size * cfg[k] * cfg[k]) {
            if (r->rank == 0)
                fprintf(stderr, "clgrad-train: the ranks differ in their %s: every rank must read the same data with "
                                "the same options (and the same --resume file)\n", names[k]);
            free(v);
            return TRAIN_EXIT_FAIL;
        }
    }
    free(v);
    return 0;
}

/* One rank's run on r (a copy of the job's prototype; g, rank, size and rank_device set),
 * prep being the exit code of its set-up so far. Leaves g and r to the caller to release,
 * in that order. */
static int rank_run(run *r, const train_job *j, int prep)
{
    int rc = prep, agreed = 0;
    if (rc == 0 && r->batch % r->size != 0) {
        if (r->rank == 0) {
            int lo = r->batch / r->size * r->size;
            fprintf(stderr, "clgrad-train: --batch %d does not split over %d ranks: the global batch is shared out "
                            "equally, so it must be a multiple of %d (e.g. %d or %d)\n", r->batch, r->size, r->size,
                    lo > 0 ? lo : r->size, lo + r->size);
        }
        rc = TRAIN_EXIT_USAGE;
    }
    if (rc == 0) rc = run_open(r, j);
    rc = agree_setup(r, rc, &agreed);
    if (rc == 0) {
        clgrad_status s = clgrad_dist_attach(r->g, r->model);
        agreed = 0;
        if (s != CLGRAD_OK) {
            r->remote_failure = 0;
            rc = run_fail(r, s, "cannot share the network between the ranks");
            agreed = 1; /* a collective: every rank got the error */
        }
    }
    if (rc == 0) {
        world_note(r, j);
        rc = run_train(r);
        if (rc == 0 && r->rank == 0 && !r->a->quiet) print_stats(r);
        if (rc == TRAIN_EXIT_INTERRUPTED) agreed = 1; /* every rank stopped at the same batch */
    }
    if (rc != 0 && !agreed) {
        /* Tell the ranks still training (a no-op when the failure came from the group). */
        clgrad_dist_check(r->g, run_fail_status != CLGRAD_OK ? run_fail_status : CLGRAD_ERR_IO);
    }
    return rc;
}

/* r from the job's prototype, owning nothing yet (run_open makes its own history). */
static void run_from_job(run *r, const train_job *j, clgrad_dist *g)
{
    *r = j->proto;
    r->hist = NULL;
    r->log = NULL;
    r->g = g;
    r->rank = g ? clgrad_dist_rank(g) : 0;
    r->size = g ? clgrad_dist_size(g) : 1;
}

/* ---------------------------------------------------------------------------------------
 * In-process groups: --devices
 * ------------------------------------------------------------------------------------- */

typedef struct local_job {
    const train_job *job;
    const dev_sel *sel;
    clgrad_dataset **views; /* each rank's own view of the training samples (its own order) */
    run *runs;
    int *rc;
} local_job;

static clgrad_status local_rank(clgrad_dist *g, void *user)
{
    local_job *lj = user;
    int rank = clgrad_dist_rank(g);
    run *r = &lj->runs[rank];
    run_from_job(r, lj->job, g);
    r->rank_device = lj->sel[rank];
    r->td.train = lj->views[rank];
    int rc = rank_run(r, lj->job, 0);
    lj->rc[rank] = rc;
    /* The runner releases g when this returns; r's module and context outlive it. The other
     * ranks know of a failure already (rank_run told them, or they took part in it): an
     * error returned here would break the group while they may still be finishing the
     * collective call that told them, or stopping at the same batch after Ctrl-C. */
    return CLGRAD_OK;
}

static int train_run_local(const train_args *a)
{
    dev_sel *sel = NULL;
    int n = 0;
    int rc = parse_devices(a->devices, &sel, &n);
    if (rc != 0) return rc;
    size_t k = 0;
    local_devices_text[0] = '\0';
    for (int i = 0; i < n && k + 40 < sizeof local_devices_text; i++)
        k += (size_t)snprintf(local_devices_text + k, sizeof local_devices_text - k, "%s%s", i ? ", " : "", sel[i]);
    train_job *j = calloc(1, sizeof *j);
    local_job lj = {0};
    if (!j) {
        free(sel);
        return run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    }
    install_handlers();
    rc = job_prepare(j, a);
    if (rc == 0) {
        lj = (local_job){j, sel, calloc((size_t)n, sizeof *lj.views), calloc((size_t)n, sizeof *lj.runs),
                         calloc((size_t)n, sizeof *lj.rc)};
        if (!lj.views || !lj.runs || !lj.rc) rc = run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
        int64_t count = clgrad_dataset_count(j->proto.td.train);
        for (int i = 0; rc == 0 && i < n; i++) {
            clgrad_status s = clgrad_dataset_slice(j->proto.td.train, 0, count, &lj.views[i]);
            if (s != CLGRAD_OK) rc = run_fail(NULL, s, "cannot share the training data");
        }
    }
    if (rc == 0) {
        for (int i = 0; i < n; i++) lj.rc[i] = TRAIN_EXIT_FAIL;
        clgrad_dist_options o = dist_options(a);
        clgrad_status s = clgrad_dist_local_run(n, &o, local_rank, &lj, NULL);
        rc = lj.rc[0];
        for (int i = 1; i < n && rc == 0; i++) rc = lj.rc[i];
        if (s != CLGRAD_OK && rc == 0) rc = run_fail(NULL, s, "the devices' threads failed");
        for (int i = 0; i < n; i++) run_close(&lj.runs[i]);
    }
    for (int i = 0; lj.views && i < n; i++) clgrad_dataset_release(lj.views[i]);
    free(lj.views);
    free(lj.runs);
    free(lj.rc);
    job_release(j);
    free(j);
    free(sel);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * MPI jobs: one process per rank
 * ------------------------------------------------------------------------------------- */

static int train_run_mpi(const train_args *a)
{
    clgrad_dist_options o = dist_options(a);
    clgrad_dist *g = NULL;
    clgrad_status s = clgrad_dist_mpi_create(NULL, &o, &g);
    if (s != CLGRAD_OK) return run_fail(NULL, s, "cannot join the MPI job");
    if (clgrad_dist_rank(g) != 0) train_quiet_rank = 1;
    install_handlers();
    dev_sel *sel = NULL;
    int nsel = 0, prep = 0;
    if (a->devices) prep = parse_devices(a->devices, &sel, &nsel);
    train_job *j = calloc(1, sizeof *j);
    if (!j) prep = run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    if (prep == 0) prep = job_prepare(j, a);
    run r0, *r = &r0;
    memset(r, 0, sizeof *r);
    if (prep == 0) {
        run_from_job(r, j, g);
        if (sel) r->rank_device = sel[clgrad_dist_local_rank(g) % nsel];
    } else {
        r->a = a, r->g = g, r->rank = clgrad_dist_rank(g), r->size = clgrad_dist_size(g);
    }
    int rc = rank_run(r, j, prep);
    clgrad_dist_release(g); /* before the module and context it is attached to */
    run_close(r);
    if (j) job_release(j);
    free(j);
    free(sel);
    return rc;
}

/* One process, one device. */
int train_run_single(const train_args *a)
{
    train_job *j = calloc(1, sizeof *j);
    if (!j) return run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    install_handlers();
    int rc = job_prepare(j, a);
    if (rc == 0) {
        run r;
        run_from_job(&r, j, NULL);
        rc = run_open(&r, j);
        if (rc == 0) world_note(&r, j);
        if (rc == 0) rc = run_train(&r);
        run_close(&r);
    }
    job_release(j);
    free(j);
    return rc;
}

int train_run(const train_args *a)
{
    const char *mode = a->dist ? a->dist : "auto", *var = NULL;
    int launched = mpi_launch_size(&var);
    int mpi = strcmp(mode, "mpi") == 0 || (strcmp(mode, "auto") == 0 && launched >= 0 && launched != 1);
    if (mpi && !clgrad_dist_mpi_available()) {
        if (strcmp(mode, "mpi") == 0)
            fprintf(stderr, "clgrad-train: --dist mpi: this clgrad was built without MPI (build it with Open MPI's "
                            "libopenmpi-dev installed, meson -Dmpi=enabled)\n");
        else
            fprintf(stderr, "clgrad-train: started by an MPI launcher (%s is set) but this clgrad was built without "
                            "MPI: build it with Open MPI's libopenmpi-dev installed (meson -Dmpi=enabled), or pass "
                            "--dist none to let every process train on its own\n", var);
        return TRAIN_EXIT_FAIL;
    }
    if (!mpi && strcmp(mode, "auto") == 0) {
        const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
        if (tasks && atoi(tasks) > 1 && getenv("SLURM_PROCID")) {
            fprintf(stderr, "clgrad-train: started by srun as one of %d tasks, but without an MPI process interface, "
                            "so the tasks cannot find each other: run srun --mpi=pmix (or pmi2), or pass --dist none "
                            "to let every task train on its own\n", atoi(tasks));
            return TRAIN_EXIT_FAIL;
        }
    }
    if (mpi) return train_run_mpi(a);
    if (a->devices) return train_run_local(a);
    return train_run_single(a);
}
