"""Back-populate Snowplow's DynamoDB events manifest from the enriched archive."""

__version__ = "0.1.0"
