"""Re-exports of the functions that moved to storage's per-table modules, for the callers not
moved yet."""

from __future__ import annotations

from storage.articles import ArticleRow as ArticleRow
from storage.articles import StoreResult as StoreResult
from storage.articles import store_article as store_article
from storage.articles import upsert_article as upsert_article
from storage.clusters import ClusterMember as ClusterMember
from storage.clusters import ClusterView as ClusterView
from storage.clusters import largest_clusters as largest_clusters
from storage.outlets import ensure_outlet as ensure_outlet
from storage.outlets import sync_outlets as sync_outlets
from storage.runs import abandoned_runs as abandoned_runs
from storage.runs import finish_run as finish_run
from storage.runs import latest_runs as latest_runs
from storage.runs import mark_abandoned_runs as mark_abandoned_runs
from storage.runs import start_run as start_run
from storage.sources import record_poll as record_poll
from storage.sources import save_source_plan as save_source_plan
from storage.sources import source_states as source_states
from storage.stats import OutletStats as OutletStats
from storage.stats import outlet_stats as outlet_stats
from storage.stats import recent_articles as recent_articles
from storage.stats import url_states as url_states
from storage.url_state import claim_pending_urls as claim_pending_urls
from storage.url_state import pending_count as pending_count
from storage.url_state import pending_urls as pending_urls
from storage.url_state import record_discovered as record_discovered
from storage.url_state import record_failure as record_failure
from storage.url_state import stored_urls as stored_urls
from storage.urls import url_state_key as url_state_key
