"""``scrapy crawl OUTLET``: Scrapy's command, with the exit code of the run it recorded (1 when
the run failed, 2 when interrupted), where Scrapy's own exits 0 whatever the run's outcome."""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or self.crawler_process is None:
            super().run(args, opts)  # its own usage errors
            return
        crawler = self.crawler_process.create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        self.exitcode = int(crawler.stats.get_value("newscrawl/exit_code", 0) or 0)
