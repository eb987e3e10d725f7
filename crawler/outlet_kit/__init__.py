"""Outlets with tests, as Fundus tests its publishers. ``add`` goes from a homepage to an
outlet file (``newscrawl outlet add``: ``discover`` finds and checks its feeds and sitemaps,
``sample`` extracts a few articles, ``infer`` guesses domains, language and URL patterns);
``draft`` writes an outlet from a named feed (``outlet new``) and holds what both share (the
templates, the staging and installing of the file and its fixtures); ``fetch`` is the one
fetcher, under the crawl's rules; ``golden`` replays every outlet's recorded feed and article
through its spider and extraction; ``check`` runs that replay and the live checks
(``outlet check [--live]``)."""
