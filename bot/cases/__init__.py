"""Cases: a reported failure becomes one case, deduplicated, grouped into storms, routed.

- :mod:`bot.cases.report` — ``FailureReport``, the one value every intake source produces.
- :mod:`bot.cases.dedupe` — which reports are the same failure (keys and join rules).
- :mod:`bot.cases.storms` — which cases share an incident (typed storm keys).
- :mod:`bot.cases.routing` — which channel a case is posted in.
- :mod:`bot.cases.manager` — the case runner: claim, lease, route, group, hand to a poster.

Persistence is :mod:`bot.store` (SQL only); posting is the Slack side, :mod:`bot.posting`.
Nothing here imports Slack or the intake sources.
"""
