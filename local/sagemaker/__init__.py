"""Local SageMaker stand-in: XGBoost training jobs, serving logic and the artifact cache.

The control-plane patches live in ``local.moto_ext.sagemaker`` and the runtime HTTP server in
``local.services.sagemaker_runtime``; this package holds the logic both of them use.
"""
