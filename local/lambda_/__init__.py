"""Local AWS Lambda stand-in: control plane, function runner and Kinesis event source mappings.

Modules, one job each:

- :mod:`.errors`: AWS-shaped errors of the Lambda API.
- :mod:`.settings`: tunables (environment variables) of the stand-in.
- :mod:`.store`: functions and mappings persisted under the state dir; deployed zips.
- :mod:`.runner` / :mod:`.worker`: one worker subprocess per concurrent execution environment.
- :mod:`.kinesis`: a thin Kinesis JSON client for the pollers.
- :mod:`.esm` / :mod:`.batch`: pollers per mapping and shard, batch processing rules.
- :mod:`.checkpoints`, :mod:`.destinations`, :mod:`.metrics`: durability, OnFailure, IteratorAge.
- :mod:`.api`: the Lambda REST-JSON operations (validation and response shapes).
"""

__all__: list[str] = []
