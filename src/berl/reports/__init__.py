"""Tables, figures and the claim scorecard, from the stages' outputs (rules:
workflow/rules/reports.smk). Nothing below this package imports it."""
