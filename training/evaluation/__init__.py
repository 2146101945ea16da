"""Evaluation harness: offline replay, uplift, A/B readout, reports, promotion gate, OPE.

- `tasks`: held-out requests after a cut-off (next order, related items) and what the
  shopper then did (bids; clicks only where views exist);
- `bundles`: the bundle to replay, trained on the events before the cut-off;
- `replay`: every strategy's lists from the service's own ranking functions;
  `baselines`: "today's deals";
- `metrics` scores canonical `served` / `outcome` frames; `uplift` divides rates per
  slot by a baseline's with paired bootstrap intervals (`bootstrap`);
- `harness.evaluate` runs it all and returns polars frames; `report` writes
  report.json and report.html; `cli_commands` backs `recsvc evaluate` / `recsvc ope`;
- `readout`: the A/B readout from the service's event store; `gate`: the promotion gate
  of nightly training;
- `ope` estimates a policy's reward per impression from a logged-bandit frame; `obd`
  loads the Open Bandit Dataset into that frame.
"""
