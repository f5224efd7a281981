"""Man pages against the tools themselves, so that they never drift.

For every tool the Makefile names (TOOLS and PLAIN_TOOLS: a tool added
there is covered here with no change), build/man/TOOL.8 must:

- document every option `TOOL --help` lists, short and long, as a tag of
  its OPTIONS section (a .TP item), and no option --help does not list.
  A tool's page may describe common options by reference: an item whose
  text says "As in schedlat(8)". Each option of such an item must also be
  in schedlat's --help and have an item of its own in schedlat(8) that
  describes it (not another reference);
- have the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS,
  OVERHEAD, EXAMPLES and SEE ALSO, each with text, and a NAME line that
  whatis can read (lexgrog);
- be man/TOOL.8 with @VERSION@ replaced (not stale), render with
  `man --warnings=w` (all of groff's warnings, as lintian runs it but
  stricter) without a single warning;
- carry "howlong VERSION" in its .TH line, VERSION being the VERSION file
  that `TOOL -V` also prints.

man/check-catches-drift runs the same checks on damaged copies of real
pages and must see each damage: the checks can fail.
"""
import os
import re
import subprocess
import tempfile

from lib import clihelp, project, tool
from lib.harness import check, test

MAN_DIR = os.path.join(clihelp.ROOT, "man")
BUILT_DIR = os.path.join(clihelp.ROOT, "build", "man")
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
            "OVERHEAD", "EXAMPLES", "KERNEL", "SEE ALSO")
REFERENCE = "schedlat"      # the page that documents the common options
REF_TEXT = "As in %s(8)" % REFERENCE
# .TP items end at any of these; .TQ adds a tag line to the current one.
ITEM_ENDS = {"TP", "PP", "P", "LP", "IP", "SH", "SS", "HP"}
FONT_MACROS = {"B", "I", "SM", "SB", "BR", "BI", "IB", "IR", "RB", "RI"}
OPTION_IN_TEXT = re.compile(r"(?<![\w-])(--?[A-Za-z?][A-Za-z0-9-]*)")


# ---- roff, read as far as these pages need ----

def _macro_args(rest):
    """Arguments of a macro line: blank-separated, "quoted" ones whole."""
    return [q.replace('""', '"') if q or not w else w
            for q, w in re.findall(r'"((?:[^"]|"")*)"|(\S+)', rest)]


def deroff(line):
    """The text of one roff line: font macros joined as groff prints them
    (alternating ones without blanks), escapes resolved, other requests
    dropped."""
    if line.startswith((".", "'")):
        m = re.match(r"^[.'](\S*)\s*(.*)$", line)
        macro, rest = m.group(1), m.group(2)
        if macro not in FONT_MACROS:
            return ""
        args = _macro_args(rest)
        line = ("".join(args) if len(macro) == 2 else " ".join(args))
    line = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", line)
    for esc, text in (("\\-", "-"), ("\\&", ""), ("\\%", ""), ("\\ ", " "),
                      ("\\~", " "), ("\\e", "\\")):
        line = line.replace(esc, text)
    line = re.sub(r"\\(\(..|\[[^\]]*\])", " ", line)
    return line


class Page:
    """A man page source: its .TH arguments, its sections in order
    ({title: [lines]}) and the items of its OPTIONS section."""

    def __init__(self, text, name="page"):
        self.name, self.th, self.sections, self.order = name, None, {}, []
        current = None
        for line in text.splitlines():
            if line.startswith(".TH ") and self.th is None:
                self.th = _macro_args(line[4:])
            elif line.startswith(".SH"):
                current = " ".join(_macro_args(line[3:]))
                self.order.append(current)
                self.sections.setdefault(current, [])
            elif current is not None:
                self.sections[current].append(line)
        self.items = self._items(self.sections.get("OPTIONS", []))

    @staticmethod
    def _items(lines):
        """[(tag, body)] of the .TP items, as text."""
        items, state = [], None
        for line in lines:
            macro = re.match(r"^[.'](\S+)", line)
            macro = macro.group(1) if macro else None
            if macro in ("TP", "TQ"):
                if macro == "TP":
                    items.append(["", ""])
                state = "tag"
            elif macro in ITEM_ENDS:
                state = None
            elif state == "tag":
                items[-1][0] += " " + deroff(line)
                state = "body"
            elif state == "body":
                items[-1][1] += " " + deroff(line)
        return [(" ".join(t.split()), " ".join(b.split())) for t, b in items]

    def text(self, section):
        return " ".join(" ".join(deroff(l) for l in
                                 self.sections.get(section, [])).split())

    def documented(self):
        """{option: [bodies of the items that name it in their tag]}."""
        found = {}
        for tag, body in self.items:
            for o in OPTION_IN_TEXT.findall(tag):
                found.setdefault(o, []).append(body)
        return found


def read(path):
    with open(path) as f:
        return f.read()


def built_path(name):
    return os.path.join(BUILT_DIR, name + ".8")


# ---- the checks: each returns a list of problems ----

def option_problems(name, page, help_opts, ref_page, ref_help_opts):
    """Every --help option documented (own item, or a reference item whose
    options schedlat(8) documents itself); nothing else documented."""
    problems = []
    documented = page.documented()
    ref_own = {o for o, bodies in ref_page.documented().items()
               if any(REF_TEXT not in b for b in bodies)}
    for o in help_opts:
        bodies = documented.get(o)
        if not bodies:
            problems.append("%s(8) does not document %s (no OPTIONS item "
                            "names it)" % (name, o))
        elif name != REFERENCE and all(REF_TEXT in b for b in bodies):
            if o not in ref_help_opts:
                problems.append("%s(8) refers %s to %s(8), but %s has no "
                                "such option" % (name, o, REFERENCE,
                                                 REFERENCE))
            elif o not in ref_own:
                problems.append("%s(8) refers %s to %s(8), which does not "
                                "describe it" % (name, o, REFERENCE))
        elif name == REFERENCE and all(REF_TEXT in b for b in bodies):
            problems.append("%s(8) refers %s to itself" % (name, o))
    for o in sorted(set(documented) - set(help_opts)):
        problems.append("%s(8) documents %s, which %s --help does not list"
                        % (name, o, name))
    return problems


def section_problems(name, page):
    problems = []
    for s in SECTIONS:
        if s not in page.sections:
            problems.append("%s(8) has no %s section" % (name, s))
        elif not page.text(s):
            problems.append("%s(8): %s is empty" % (name, s))
    dup = sorted({s for s in page.order if page.order.count(s) > 1})
    if dup:
        problems.append("%s(8) repeats %s" % (name, ", ".join(dup)))
    if page.order[:1] != ["NAME"]:
        problems.append("%s(8) does not start with NAME" % name)
    if not re.match(r"^%s - \S" % re.escape(name), page.text("NAME")):
        problems.append("%s(8): NAME is %r, expected '%s \\- summary'" % (
            name, page.text("NAME")[:60], name))
    return problems


def render_problems(name, path):
    """man's own warnings, every groff category; whatis's NAME parse."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    r = subprocess.run(["man", "--warnings=w", "-E", "UTF-8", "-l",
                        "-Tutf8", "-Z", path], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    problems = ["%s(8): %s" % (name, l.strip())
                for l in r.stderr.splitlines() if l.strip()]
    if r.returncode:
        problems.append("%s(8): man exited %d" % (name, r.returncode))
    w = subprocess.run(["lexgrog", path], capture_output=True, text=True,
                       timeout=30)
    if w.returncode or ('"%s - ' % name) not in w.stdout:
        problems.append("%s(8): whatis cannot read NAME: %s" % (
            name, (w.stdout + w.stderr).strip()[:120]))
    return problems


def th_problems(name, page, version):
    want = "howlong " + version
    th = page.th or []
    if len(th) < 4 or th[0] != name.upper() or th[1] != "8" or th[3] != want:
        return ["%s(8): .TH %s, expected %s 8 DATE \"%s\"" % (
            name, " ".join(th) or "missing", name.upper(), want)]
    return []


# ---- the tests ----

def need_programs():
    for prog, pkg in (("man", "man-db"), ("lexgrog", "man-db"),
                      ("groff", "groff-base")):
        check(subprocess.run(["sh", "-c", "command -v " + prog],
                             capture_output=True).returncode == 0,
              "%s not installed (package %s; run: make deps)" % (prog, pkg))


def built_page(name):
    """build/man/NAME.8, which must be man/NAME.8 with the version in."""
    src, built = os.path.join(MAN_DIR, name + ".8"), built_path(name)
    check(os.path.exists(src), "no man page %s for tool %s" % (src, name))
    check(os.path.exists(built), "%s not built (run: make)" % built)
    want = read(src).replace("@VERSION@", project.version())
    check(read(built) == want, "%s is stale: it is not %s with the version "
          "of VERSION (run: make)" % (built, src))
    return read(built)


def help_option_names(name):
    return [o for o, _ in clihelp.help_options(clihelp.help_text(name))]


def options_test(name):
    def run():
        page = Page(built_page(name), name)
        ref = Page(built_page(REFERENCE), REFERENCE)
        opts = help_option_names(name)
        ref_opts = opts if name == REFERENCE else \
            help_option_names(REFERENCE)
        problems = option_problems(name, page, opts, ref, ref_opts)
        check(not problems, "; ".join(problems))
        by_ref = [o for o, bodies in page.documented().items()
                  if all(REF_TEXT in b for b in bodies)]
        return "%d options documented%s" % (len(opts), (
            ", %d of them as in %s(8)" % (len(by_ref), REFERENCE))
            if by_ref else "")
    return run


def sections_test(name):
    def run():
        page = Page(built_page(name), name)
        problems = section_problems(name, page)
        check(not problems, "; ".join(problems))
        return ", ".join(page.order)
    return run


def render_test(name):
    def run():
        need_programs()
        built_page(name)
        problems = render_problems(name, built_path(name))
        check(not problems, "; ".join(problems))
        return "no warning"
    return run


def version_test(name):
    def run():
        version = project.version()
        check(version, "the VERSION file is empty")
        problems = th_problems(name, Page(built_page(name), name), version)
        check(not problems, "; ".join(problems))
        r = tool.run(["-V"], name=name)
        r.expect_rc(0)
        want = "%s (howlong) %s" % (name, version)
        check(r.out.strip() == want, "%s -V printed %r, expected %r" % (
            name, r.out.strip(), want))
        return want
    return run


for _name in project.tools():
    test("man/%s/options" % _name)(options_test(_name))
    test("man/%s/sections" % _name)(sections_test(_name))
    test("man/%s/render" % _name)(render_test(_name))
    test("man/%s/version" % _name)(version_test(_name))


@test("man/pages-match-tools")
def pages_match_tools():
    """A page per tool of the Makefile, and no page of a tool it lacks."""
    tools = set(project.tools())
    pages = {f[:-2] for f in os.listdir(MAN_DIR) if f.endswith(".8")}
    check(not tools - pages, "no man page for %s" % sorted(tools - pages))
    check(not pages - tools, "man pages of no tool: %s" % sorted(
        pages - tools))
    check(REFERENCE in tools, "the reference page's tool %s is gone"
          % REFERENCE)
    return "%d tools, %d pages" % (len(tools), len(pages))


def _drop_item(text, option):
    """The page without the .TP item whose tag names option."""
    lines, out, skip = text.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            skip = option in OPTION_IN_TEXT.findall(deroff(lines[i + 1]))
        elif line.startswith((".SH", ".PP")):
            skip = False
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


@test("man/check-catches-drift")
def catches_drift():
    """Each kind of drift, made on a copy of a real page, is reported."""
    need_programs()
    ref_text = built_page(REFERENCE)
    ref_opts = help_option_names(REFERENCE)
    ref = Page(ref_text, REFERENCE)
    check(not option_problems(REFERENCE, ref, ref_opts, ref, ref_opts),
          "%s(8) itself has problems" % REFERENCE)
    other = next((t for t in project.tools() if t != REFERENCE and
                  any(REF_TEXT in b for _, b in Page(built_page(t)).items)),
                 None)
    check(other, "no page refers options to %s(8)" % REFERENCE)
    other_text, other_opts = built_page(other), help_option_names(other)
    ref_only = [o for o in other_opts if all(
        REF_TEXT in b for b in Page(other_text).documented().get(o, []))]
    check(ref_only, "%s(8) refers no option to %s(8)" % (other, REFERENCE))

    def opt_problems(name, text, opts, ref_text=ref_text,
                     ref_opts=ref_opts):
        return option_problems(name, Page(text, name), opts,
                               Page(ref_text, REFERENCE), ref_opts)

    cases = {
        "option removed": opt_problems(
            REFERENCE, _drop_item(ref_text, "--btf"), ref_opts),
        "short form removed": opt_problems(
            REFERENCE, ref_text.replace('.BR \\-T ", " \\-\\-timestamp',
                                        ".B \\-\\-timestamp"), ref_opts),
        "option --help lacks": opt_problems(
            REFERENCE, ref_text, [o for o in ref_opts if o != "--tids"]),
        "referenced option %s(8) lacks" % REFERENCE: opt_problems(
            other, other_text, other_opts,
            _drop_item(ref_text, ref_only[0])),
        "reference to an option %s lacks" % REFERENCE: opt_problems(
            other, other_text, other_opts,
            ref_opts=[o for o in ref_opts if o != ref_only[0]]),
        "section removed": section_problems(REFERENCE, Page(
            ref_text.replace(".SH OVERHEAD", ".SH COST"), REFERENCE)),
        "version": th_problems(REFERENCE, ref, project.version() + ".1"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, REFERENCE + ".8")
        with open(bad, "w") as f:
            f.write(ref_text.replace(".SH OPTIONS", ".SH OPTIONS\n.XX y"))
        cases["groff warning"] = render_problems(REFERENCE, bad)
    missed = [k for k, problems in cases.items() if not problems]
    check(not missed, "damage not reported: %s" % ", ".join(missed))
    return "%d kinds of damage reported" % len(cases)
