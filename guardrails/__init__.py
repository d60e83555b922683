"""Input and output guards for ladder: see guardrails/README.md and guardrails/pipeline.py."""
