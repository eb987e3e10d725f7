"""Outlets with tests, as Fundus tests its publishers: ``draft`` writes a new outlet's file and
fixtures (``newscrawl outlet new``), ``fetch`` gets its pages under the crawl's rules, ``golden``
replays every outlet's recorded feed and article through its spider and extraction."""
