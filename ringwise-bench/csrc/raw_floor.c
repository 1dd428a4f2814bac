/*
 * The floor: the least user-space work a NOP round trip through io_uring can
 * take. Kernel-mapped rings, SQE fields stored straight into the ring, one
 * release store of the SQ tail, the enter syscall issued with inline asm in
 * the loop itself (no function returns right after `syscall`), one acquire
 * load of the CQ tail and one release store of the CQ head per batch.
 *
 * It has no error recovery worth the name: it is a yardstick, not a library.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RWB_SETUP_SINGLE_ISSUER (1U << 12)
#define RWB_SETUP_DEFER_TASKRUN (1U << 13)
#define RWB_SETUP_NO_SQARRAY (1U << 16)
#define RWB_ENTER_GETEVENTS (1U << 0)
#define RWB_ENTER_REGISTERED_RING (1U << 4)
#define RWB_REGISTER_RING_FDS 20
#define RWB_OP_NOP 0
#define RWB_OP_READ 22

struct rwb_raw {
	int ring_fd;
	unsigned enter_fd;
	unsigned enter_flags;
	/* SQ */
	unsigned *sq_tail;
	unsigned *sq_head;
	unsigned sq_mask;
	unsigned sq_local_tail;
	struct io_uring_sqe *sqes;
	/* CQ */
	unsigned *cq_head;
	unsigned *cq_tail;
	unsigned cq_mask;
	struct io_uring_cqe *cqes;
	/* mappings */
	void *rings;
	size_t rings_len;
	void *sqe_map;
	size_t sqe_len;
};

#if defined(__x86_64__)
static inline __attribute__((always_inline)) long rwb_enter(unsigned fd, unsigned to_submit, unsigned min_complete,
							   unsigned flags)
{
	long ret;
	register long r10 __asm__("r10") = flags;
	register long r8 __asm__("r8") = 0;
	register long r9 __asm__("r9") = 0;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)__NR_io_uring_enter), "D"((long)fd), "S"((long)to_submit),
			   "d"((long)min_complete), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#else
static inline long rwb_enter(unsigned fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	long ret = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
	return ret < 0 ? -errno : ret;
}
#endif

static int setup(struct io_uring_params *p, unsigned entries)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

void rwb_raw_close(struct rwb_raw *r)
{
	if (!r)
		return;
	if (r->ring_fd >= 0)
		close(r->ring_fd);
	if (r->rings)
		munmap(r->rings, r->rings_len);
	if (r->sqe_map)
		munmap(r->sqe_map, r->sqe_len);
	free(r);
}

/* Returns NULL with errno set on failure. */
struct rwb_raw *rwb_raw_open(unsigned entries, int fast)
{
	struct io_uring_params p;
	struct rwb_raw *r = calloc(1, sizeof(*r));
	unsigned base = fast ? (RWB_SETUP_SINGLE_ISSUER | RWB_SETUP_DEFER_TASKRUN) : 0;
	int no_sqarray = 1;
	int fd;

	if (!r)
		return NULL;
	r->ring_fd = -1;
	memset(&p, 0, sizeof(p));
	p.flags = base | RWB_SETUP_NO_SQARRAY;
	fd = setup(&p, entries);
	if (fd < 0 && errno == EINVAL) {
		/* Kernels before 6.6: keep the SQ array, filled once below. */
		no_sqarray = 0;
		memset(&p, 0, sizeof(p));
		p.flags = base;
		fd = setup(&p, entries);
	}
	if (fd < 0)
		goto fail;
	r->ring_fd = fd;
	r->enter_fd = (unsigned)fd;

	r->rings_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (!no_sqarray && p.sq_off.array + p.sq_entries * sizeof(unsigned) > r->rings_len)
		r->rings_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->rings = mmap(NULL, r->rings_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (r->rings == MAP_FAILED) {
		r->rings = NULL;
		goto fail;
	}
	r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqe_map = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (r->sqe_map == MAP_FAILED) {
		r->sqe_map = NULL;
		goto fail;
	}
	char *base_ptr = r->rings;
	r->sq_head = (unsigned *)(base_ptr + p.sq_off.head);
	r->sq_tail = (unsigned *)(base_ptr + p.sq_off.tail);
	r->sq_mask = *(unsigned *)(base_ptr + p.sq_off.ring_mask);
	r->sq_local_tail = *r->sq_tail;
	r->sqes = r->sqe_map;
	r->cq_head = (unsigned *)(base_ptr + p.cq_off.head);
	r->cq_tail = (unsigned *)(base_ptr + p.cq_off.tail);
	r->cq_mask = *(unsigned *)(base_ptr + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(base_ptr + p.cq_off.cqes);
	if (!no_sqarray) {
		unsigned *array = (unsigned *)(base_ptr + p.sq_off.array);
		for (unsigned i = 0; i < p.sq_entries; i++)
			array[i] = i;
	}
	if (fast) {
		struct io_uring_rsrc_update up = {.offset = -1U, .data = (uint64_t)fd};
		if (syscall(__NR_io_uring_register, fd, RWB_REGISTER_RING_FDS, &up, 1) == 1) {
			r->enter_fd = up.offset;
			r->enter_flags = RWB_ENTER_REGISTERED_RING;
		}
	}
	return r;
fail: {
	int e = errno;
	rwb_raw_close(r);
	errno = e;
	return NULL;
}
}

/* Publish `n` queued SQEs, enter, and reap `n` CQEs; returns the sum of
 * user_data + res of what was reaped (so nothing is optimised away), or a
 * negative errno. */
static inline __attribute__((always_inline)) long long submit_reap(struct rwb_raw *r, unsigned n)
{
	long long sum = 0;
	unsigned got = 0;
	long ret;

	__atomic_store_n(r->sq_tail, r->sq_local_tail, __ATOMIC_RELEASE);
	ret = rwb_enter(r->enter_fd, n, n, RWB_ENTER_GETEVENTS | r->enter_flags);
	if (ret < 0)
		return ret;
	for (;;) {
		unsigned head = *r->cq_head;
		unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
			sum += (long long)cqe->user_data + cqe->res;
			got++;
		}
		__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
		if (got >= n)
			return sum;
		ret = rwb_enter(r->enter_fd, 0, n - got, RWB_ENTER_GETEVENTS | r->enter_flags);
		if (ret < 0)
			return ret;
	}
}

static inline __attribute__((always_inline)) void put_sqe(struct io_uring_sqe *sqe, uint8_t op, int fd, uint64_t off,
							  uint64_t addr, uint32_t len, uint64_t user_data)
{
	sqe->opcode = op;
	sqe->flags = 0;
	sqe->ioprio = 0;
	sqe->fd = fd;
	sqe->off = off;
	sqe->addr = addr;
	sqe->len = len;
	sqe->rw_flags = 0;
	sqe->user_data = user_data;
	sqe->buf_index = 0;
	sqe->personality = 0;
	sqe->splice_fd_in = 0;
	sqe->addr3 = 0;
	sqe->__pad2[0] = 0;
}

/* `rounds` rounds of `batch` NOPs each (batch <= entries). */
long long rwb_raw_nop(struct rwb_raw *r, unsigned batch, unsigned long long rounds)
{
	long long sum = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = &r->sqes[r->sq_local_tail & r->sq_mask];
			put_sqe(sqe, RWB_OP_NOP, -1, 0, 0, 0, i);
			r->sq_local_tail++;
		}
		long long s = submit_reap(r, batch);
		if (s < 0)
			return s;
		sum += s;
	}
	return sum;
}

/* `rounds` rounds of `depth` reads of `size` bytes each into `bufs` (depth *
 * size bytes), at consecutive offsets that wrap at `file_size`. */
long long rwb_raw_read(struct rwb_raw *r, int fd, unsigned char *bufs, unsigned size, unsigned depth,
		       unsigned long long file_size, unsigned long long rounds)
{
	long long sum = 0;
	unsigned long long off = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		for (unsigned i = 0; i < depth; i++) {
			struct io_uring_sqe *sqe = &r->sqes[r->sq_local_tail & r->sq_mask];
			put_sqe(sqe, RWB_OP_READ, fd, off, (uint64_t)(uintptr_t)(bufs + (size_t)i * size), size, i);
			r->sq_local_tail++;
			off += size;
			if (off + size > file_size)
				off = 0;
		}
		long long s = submit_reap(r, depth);
		if (s < 0)
			return s;
		sum += s;
	}
	return sum;
}
