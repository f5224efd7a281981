# System call names from `cc -E -dM` of <asm/unistd.h>: a line
# [NR] = "name", for every __NR_name, whether it is a number or, as in
# the asm-generic table of arm64 and others, another macro's (__NR3264_*).
$1 == "#define" { value[$2] = $3 }
END {
	for (m in value) {
		if (m !~ /^__NR_[a-z0-9_]+$/)
			continue
		nr = value[m]
		if (nr !~ /^[0-9]+$/)
			nr = value[nr]
		if (nr ~ /^[0-9]+$/)
			printf "[%d] = \"%s\",\n", nr, substr(m, 6)
	}
}
