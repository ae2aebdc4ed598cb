"""Vietnamese text: canonical form and defect detection."""
