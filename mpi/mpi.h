// Open MPI reached through dlopen, so that a binary built with it runs
// without MPI installed. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM ...) are the addresses of its global objects, which dlsym gives.
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef int (*ht_mpi_init_thread_fn)(int *, char ***, int, int *);
typedef int (*ht_mpi_int_fn)(void *, int *);
typedef int (*ht_mpi_allreduce_fn)(const void *, void *, int, void *, void *, void *);
typedef int (*ht_mpi_void_fn)(void);
typedef int (*ht_mpi_comm_fn)(void *);
typedef int (*ht_mpi_abort_fn)(void *, int);

static ht_mpi_init_thread_fn ht_mpi_init_thread;
static ht_mpi_int_fn ht_mpi_comm_rank, ht_mpi_comm_size;
static ht_mpi_allreduce_fn ht_mpi_allreduce;
static ht_mpi_void_fn ht_mpi_finalize;
static ht_mpi_comm_fn ht_mpi_barrier;
static ht_mpi_abort_fn ht_mpi_abort;
static void *ht_mpi_world, *ht_mpi_float, *ht_mpi_double, *ht_mpi_sum, *ht_mpi_max;

// ht_mpi_load opens libmpi at path (RTLD_GLOBAL: Open MPI's plugins need
// its symbols) and binds what hiertune uses. Returns 0, or -1 with a
// message in err.
static int ht_mpi_load(const char *path, char *err, int errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
#define HT_BIND(var, type, name)                                              \
	var = (type)dlsym(h, name);                                               \
	if (!var) {                                                                \
		snprintf(err, errlen, "%s has no %s (is it Open MPI?)", path, name); \
		return -1;                                                             \
	}
	HT_BIND(ht_mpi_init_thread, ht_mpi_init_thread_fn, "MPI_Init_thread");
	HT_BIND(ht_mpi_comm_rank, ht_mpi_int_fn, "MPI_Comm_rank");
	HT_BIND(ht_mpi_comm_size, ht_mpi_int_fn, "MPI_Comm_size");
	HT_BIND(ht_mpi_allreduce, ht_mpi_allreduce_fn, "MPI_Allreduce");
	HT_BIND(ht_mpi_finalize, ht_mpi_void_fn, "MPI_Finalize");
	HT_BIND(ht_mpi_barrier, ht_mpi_comm_fn, "MPI_Barrier");
	HT_BIND(ht_mpi_abort, ht_mpi_abort_fn, "MPI_Abort");
	HT_BIND(ht_mpi_world, void *, "ompi_mpi_comm_world");
	HT_BIND(ht_mpi_float, void *, "ompi_mpi_float");
	HT_BIND(ht_mpi_double, void *, "ompi_mpi_double");
	HT_BIND(ht_mpi_sum, void *, "ompi_mpi_op_sum");
	HT_BIND(ht_mpi_max, void *, "ompi_mpi_op_max");
#undef HT_BIND
	return 0;
}

// MPI_THREAD_FUNNELED: only the thread that called MPI_Init_thread calls
// MPI; hiertune makes every call from one locked OS thread.
static int ht_mpi_start(int *rank, int *size) {
	int provided = 0;
	int rc = ht_mpi_init_thread(NULL, NULL, 1, &provided);
	if (rc) return rc;
	if ((rc = ht_mpi_comm_rank(ht_mpi_world, rank))) return rc;
	return ht_mpi_comm_size(ht_mpi_world, size);
}

// MPI_IN_PLACE is (void *) 1 in Open MPI.
static int ht_mpi_sum_f32(float *buf, int n) { return ht_mpi_allreduce((void *)1, buf, n, ht_mpi_float, ht_mpi_sum, ht_mpi_world); }
static int ht_mpi_sum_f64(double *buf, int n) { return ht_mpi_allreduce((void *)1, buf, n, ht_mpi_double, ht_mpi_sum, ht_mpi_world); }
static int ht_mpi_max_f64(double *buf, int n) { return ht_mpi_allreduce((void *)1, buf, n, ht_mpi_double, ht_mpi_max, ht_mpi_world); }
static int ht_mpi_wait_all(void) { return ht_mpi_barrier(ht_mpi_world); }
static int ht_mpi_end(void) { return ht_mpi_finalize(); }
static int ht_mpi_kill(int code) { return ht_mpi_abort(ht_mpi_world, code); }
