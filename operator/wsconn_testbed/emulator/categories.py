"""What the service derives from a connection's category: its canonical spelling, its `group`, and the
metadata keys it adds.

The recordings (tests/fixtures/recordings) decide where they speak: `AzureOpenAi` and `OpenAi` come back as
`AzureOpenAI` and `OpenAI` while every other category is echoed as sent; `S3` is in group `File`,
`ContainerRegistry`, `ADLSGen2` and `AzureOneLake` in `Azure`, `AzureOpenAI` and `OpenAI` in `AzureAI`;
AzureOpenAI connections gain `DeploymentApiVersion: "2023-10-01-preview"` after the sent metadata keys.
Where they are silent, the group table below is the emulator's derivation from the category names of the
newest contract (2025-12-01, 120 categories): Azure services `Azure`, AI services and the AI tool
connections (`ApiKey`, `CustomKeys`, model gateways, grounding, remote tools and agents) `AzureAI`, then
`NoSQL`, `File`, `GenericProtocol` and `Database` by what the category names, everything else
`ServicesAndApps`.
"""

from __future__ import annotations

CANONICAL = {name.lower(): name for name in ("AzureOpenAI", "OpenAI")}
"""Categories whose casing the service canonicalises (recorded: `AzureOpenAi`, `OpenAi`)."""

DEFAULT_ADDED_METADATA: dict[str, dict[str, str]] = {
    "AzureOpenAI": {"DeploymentApiVersion": "2023-10-01-preview"}
}
"""Metadata keys the service appends, per category (recorded for AzureOpenAI, ApiKey and AAD alike)."""

_GROUPS: dict[str, tuple[str, ...]] = {
    "AzureAI": (
        "AzureOpenAI",
        "AIServices",
        "CognitiveSearch",
        "CognitiveService",
        "OpenAI",
        "Serverless",
        "ManagedOnlineEndpoint",
        "BingLLMSearch",
        "Serp",
        "ApiKey",
        "CustomKeys",
        "ModelGateway",
        "GroundingWithBingSearch",
        "GroundingWithCustomSearch",
        "RemoteTool",
        "RemoteA2A",
    ),
    "Azure": (
        "ADLSGen2",
        "AzureBlob",
        "AzureOneLake",
        "AzureSqlDb",
        "AzureSynapseAnalytics",
        "AzureMySqlDb",
        "AzurePostgresDb",
        "AzureDataExplorer",
        "AzureMariaDb",
        "AzureDatabricksDeltaLake",
        "AzureSqlMi",
        "AzureTableStorage",
        "ContainerRegistry",
        "AzureKeyVault",
        "AzureContainerAppEnvironment",
        "AzureStorageAccount",
        "AppInsights",
        "AppConfig",
        "ApiManagement",
        "Databricks",
        "MicrosoftFabric",
    ),
    "NoSQL": (
        "CosmosDb",
        "CosmosDbMongoDbApi",
        "Cassandra",
        "Couchbase",
        "MongoDbV2",
        "MongoDbAtlas",
        "Redis",
        "Pinecone",
        "Elasticsearch",
    ),
    "File": (
        "S3",
        "AmazonS3Compatible",
        "FileServer",
        "FtpServer",
        "GoogleCloudStorage",
        "Hdfs",
        "OracleCloudStorage",
        "Sftp",
    ),
    "GenericProtocol": (
        "PythonFeed",
        "Git",
        "GenericHttp",
        "ODataRest",
        "Odbc",
        "GenericRest",
        "GenericContainerRegistry",
    ),
    "Database": (
        "Snowflake",
        "AmazonRdsForOracle",
        "AmazonRdsForSqlServer",
        "AmazonRedshift",
        "Db2",
        "Drill",
        "GoogleBigQuery",
        "Greenplum",
        "Hbase",
        "Hive",
        "Impala",
        "Informix",
        "MariaDb",
        "MicrosoftAccess",
        "MySql",
        "Netezza",
        "Oracle",
        "Phoenix",
        "PostgreSql",
        "Presto",
        "SapOpenHub",
        "SapBw",
        "SapHana",
        "SapTable",
        "Spark",
        "SqlServer",
        "Sybase",
        "Teradata",
        "Vertica",
    ),
}
_GROUP_OF = {category.lower(): group for group, members in _GROUPS.items() for category in members}
OTHER_GROUP = "ServicesAndApps"


def canonical(category: str) -> str:
    """The spelling the service answers with: canonical for the OpenAI categories, else as sent."""
    return CANONICAL.get(category.lower(), category)


def group_of(category: str | None) -> str | None:
    """The ConnectionGroup of a category (None without a category)."""
    if category is None:
        return None
    return _GROUP_OF.get(category.lower(), OTHER_GROUP)


def with_added_metadata(
    category: str | None, metadata: dict[str, str | None] | None, added: dict[str, dict[str, str]]
) -> dict[str, str | None] | None:
    """The metadata the service stores: the sent keys, in order, then the category's added keys that were not
    sent (a sent key keeps the sent value). `added` maps categories (any casing) to their keys."""
    table = {k.lower(): v for k, v in added.items()}
    extra = table.get((category or "").lower(), {})
    if not extra:
        return metadata
    out = dict(metadata or {})
    for key, value in extra.items():
        out.setdefault(key, value)
    return out
