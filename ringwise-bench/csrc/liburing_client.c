/*
 * The C liburing client: the ordinary way to drive liburing (get_sqe,
 * prep, submit_and_wait, for_each_cqe, cq_advance), with the same loops as
 * the other clients. Built only where liburing-dev is installed.
 */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* Returns NULL with errno set on failure. */
struct io_uring *rwb_uring_open(unsigned entries, int fast)
{
	struct io_uring *ring = calloc(1, sizeof(*ring));
	struct io_uring_params p;
	int ret;

	if (!ring)
		return NULL;
	memset(&p, 0, sizeof(p));
	if (fast)
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(entries, ring, &p);
	if (ret < 0) {
		free(ring);
		errno = -ret;
		return NULL;
	}
	if (fast) {
		ret = io_uring_register_ring_fd(ring);
		if (ret < 0) {
			io_uring_queue_exit(ring);
			free(ring);
			errno = -ret;
			return NULL;
		}
	}
	return ring;
}

void rwb_uring_close(struct io_uring *ring)
{
	if (!ring)
		return;
	io_uring_queue_exit(ring);
	free(ring);
}

static long long submit_reap(struct io_uring *ring, unsigned n)
{
	long long sum = 0;
	unsigned got = 0;
	int ret = io_uring_submit_and_wait(ring, n);
	if (ret < 0)
		return ret;
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe)
		{
			sum += (long long)cqe->user_data + cqe->res;
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		got += seen;
		if (got >= n)
			return sum;
		ret = io_uring_wait_cqe_nr(ring, &cqe, n - got);
		if (ret < 0)
			return ret;
	}
}

/* `rounds` rounds of `batch` NOPs each (batch <= entries). */
long long rwb_uring_nop(struct io_uring *ring, unsigned batch, unsigned long long rounds)
{
	long long sum = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, i);
		}
		long long s = submit_reap(ring, batch);
		if (s < 0)
			return s;
		sum += s;
	}
	return sum;
}

/* As rwb_raw_read in raw_floor.c. */
long long rwb_uring_read(struct io_uring *ring, int fd, unsigned char *bufs, unsigned size, unsigned depth,
			 unsigned long long file_size, unsigned long long rounds)
{
	long long sum = 0;
	unsigned long long off = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		for (unsigned i = 0; i < depth; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			io_uring_prep_read(sqe, fd, bufs + (size_t)i * size, size, off);
			io_uring_sqe_set_data64(sqe, i);
			off += size;
			if (off + size > file_size)
				off = 0;
		}
		long long s = submit_reap(ring, depth);
		if (s < 0)
			return s;
		sum += s;
	}
	return sum;
}
