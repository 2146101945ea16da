"""Evaluation harness: metrics of served lists, bootstrap intervals, off-policy estimators.

`metrics` scores canonical `served` / `outcome` frames; `bootstrap` gives paired
confidence intervals over shoppers or rounds; `ope` estimates a policy's reward per
impression from a logged-bandit frame; `obd` loads the Open Bandit Dataset into that frame.
"""
