"""`scrapy crawl town_news`: a thin alias of `dgarchive crawl`, so it takes the same run
locks, the same pre-flight checks and the same exit codes.

Scrapy's own `crawl` command runs the spider without any of them (no lock; exit 1 and
tracebacks for an unreachable database). This one replaces it through COMMANDS_MODULE (the
project's commands override Scrapy's of the same name) and hands over to
`crawler.cli.main`, with the settings Scrapy parsed (`-s`, `-o`, `scrapy.cfg`):

- `-a town=SLUG[,SLUG]`, `-a column=PATH[,PATH]`, `-a site_root=URL`, `-a full=1`
  become `--town`, `--column`, `--site-root`, `--full`;
- `-s WARC_DIR=…`, `-s DB_URL=…`, `-s REPORT_FILE=…`, `-s DB_ENABLED=False` are read as
  `dgarchive crawl` reads them (its `--archive`, `--db`, `--report`, `--no-db` set them);
- `-L LEVEL` is `--log-level`; `--nolog` is `--quiet`.

Any other spider argument or spider name is a usage error (exit 2).
"""

from __future__ import annotations

import argparse

from scrapy.commands import BaseRunSpiderCommand
from scrapy.exceptions import UsageError

SPIDER = "town_news"
LIST_ARGS = {"town": "--town", "column": "--column"}


def dgarchive_argv(spargs: dict[str, str], opts: argparse.Namespace) -> list[str]:
    """The `dgarchive` arguments for `scrapy crawl town_news` with `spargs` (-a). Pure."""
    argv: list[str] = []
    level = getattr(opts, "loglevel", None)
    if level:
        argv += ["--log-level", str(level)]
    if getattr(opts, "nolog", False):
        argv.append("--quiet")
    argv.append("crawl")
    for name, value in spargs.items():
        if name in LIST_ARGS:
            for part in str(value).split(","):
                if part.strip():
                    argv += [LIST_ARGS[name], part.strip()]
        elif name == "site_root":
            argv += ["--site-root", str(value)]
        elif name == "full":
            if str(value).lower() in ("1", "true", "yes"):
                argv.append("--full")
        else:
            raise UsageError(
                f"unknown spider argument -a {name}=…: town_news takes town, column, "
                "site_root and full",
                print_help=False,
            )
    return argv


class Command(BaseRunSpiderCommand):
    requires_project = True
    requires_crawler_process = False  # dgarchive's crawl makes its own, after the locks

    def syntax(self) -> str:
        return "[options] town_news"

    def short_desc(self) -> str:
        return "Run the town_news spider as `dgarchive crawl` does (same lock, exit codes)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or args[0] != SPIDER:
            raise UsageError(f"the only spider is {SPIDER}: scrapy crawl {SPIDER}")
        from crawler.cli import main

        assert self.settings is not None
        self.exitcode = main(dgarchive_argv(opts.spargs, opts), settings=self.settings)
