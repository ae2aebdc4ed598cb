"""Write-audit-publish: staging, validation, publishing, watermarks, audit."""
