/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Strings a marker passes as (pointer, length), as HotSpot's do: copied
 * from user memory, cut to the buffer and NUL-terminated.
 */
#ifndef HOWLONG_USTR_BPF_H
#define HOWLONG_USTR_BPF_H

/* size must be a power of two: the verifier needs the mask below. */
static __always_inline void copy_name(char *dst, __u32 size, const char *src,
				      long len)
{
	__u32 n = len < 0 ? 0 : len;

	if (n > size - 1)
		n = size - 1;
	/* Hide the clamp from clang so that the mask, which the verifier
	 * needs to see, is not optimised away. */
	asm volatile("" : "+r"(n));
	n &= size - 1;
	if (bpf_probe_read_user(dst, n, src))
		n = 0;
	dst[n & (size - 1)] = '\0';
}

/* FNV-1a of a NUL-terminated string of at most max bytes: names a
 * string in a histogram key, with the string itself kept in a map. */
static __always_inline __u64 str_hash(const char *s, int max)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < max && s[i]; i++)
		h = (h ^ (__u8)s[i]) * 0x100000001b3ULL;
	return h;
}

#endif /* HOWLONG_USTR_BPF_H */
