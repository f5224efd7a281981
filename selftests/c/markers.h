/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Markers of the test program (markers.c): every site is written with
 * MARKn(), which emits the sys/sdt.h marker and, from the very same C
 * expressions, a declaration row in section "hl_sites": provider, name,
 * each argument's type as the compiler sees it (_Generic), and whether the
 * file was built with semaphores. `markers declare` prints the rows, so a
 * test compares what a tool reads from the ELF notes with what the source
 * declares, not with the tool's own reading.
 *
 * Each site sits in a function the compiler may neither inline nor clone,
 * so that one row is exactly one note.
 */
#ifndef HOWLONG_TEST_MARKERS_H
#define HOWLONG_TEST_MARKERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/sdt.h>

#define PROVIDER hltest

#ifdef _SDT_HAS_SEMAPHORES
#define HL_SITE_SEMAPHORE true
#else
#define HL_SITE_SEMAPHORE false
#endif

#if defined(__clang__)
#define HL_SITE_FN __attribute__((noinline))
#else
#define HL_SITE_FN __attribute__((noipa))
#endif

struct site_decl {
	const char *provider;
	const char *name;
	bool semaphore;
	int nargs;
	const char *types[12];
};

/* sys/sdt.h's size and signedness, named: pointers are unsigned 64-bit,
 * floating point types get an "f" after the size. */
#define HL_TYPE(x) _Generic((x),					\
	_Bool: "uint8", char: (char)-1 < 0 ? "int8" : "uint8",		\
	signed char: "int8", unsigned char: "uint8",			\
	short: "int16", unsigned short: "uint16",			\
	int: "int32", unsigned int: "uint32",				\
	long: "int64", unsigned long: "uint64",				\
	long long: "int64", unsigned long long: "uint64",		\
	float: "float32", double: "float64",				\
	default: "uint64")

#define HL_STR(x) HL_STR_(x)
#define HL_STR_(x) #x

/* The row: a static struct, its address in the section (pointers keep
 * the section an array: structs there could be padded apart). */
#define HL_DECLARE(name, n, ...)					\
	static const struct site_decl hl__site = {			\
		HL_STR(PROVIDER), #name, HL_SITE_SEMAPHORE, n,		\
		{ __VA_ARGS__ } };					\
	static const struct site_decl *const hl__site_ptr		\
	__attribute__((used, section("hl_sites"))) = &hl__site

#define MARK0(name) do {						\
	HL_DECLARE(name, 0, NULL);					\
	STAP_PROBE(PROVIDER, name);					\
} while (0)
#define MARK1(name, a) do {						\
	HL_DECLARE(name, 1, HL_TYPE(a));				\
	STAP_PROBE1(PROVIDER, name, a);					\
} while (0)
#define MARK2(name, a, b) do {						\
	HL_DECLARE(name, 2, HL_TYPE(a), HL_TYPE(b));			\
	STAP_PROBE2(PROVIDER, name, a, b);				\
} while (0)
#define MARK3(name, a, b, c) do {					\
	HL_DECLARE(name, 3, HL_TYPE(a), HL_TYPE(b), HL_TYPE(c));	\
	STAP_PROBE3(PROVIDER, name, a, b, c);				\
} while (0)
#define MARK8(name, a, b, c, d, e, f, g, h) do {			\
	HL_DECLARE(name, 8, HL_TYPE(a), HL_TYPE(b), HL_TYPE(c),		\
		   HL_TYPE(d), HL_TYPE(e), HL_TYPE(f), HL_TYPE(g),	\
		   HL_TYPE(h));						\
	STAP_PROBE8(PROVIDER, name, a, b, c, d, e, f, g, h);		\
} while (0)

/* markers_guarded.c: the one file built with semaphores */
void fire_guarded(int round, const char *what);

#endif /* HOWLONG_TEST_MARKERS_H */
