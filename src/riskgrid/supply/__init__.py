"""Image supply chain: registry client, DSSE/in-toto attestations, SBOMs, scan reports, gate."""
