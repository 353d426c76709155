"""The `azure` backend: a deployment of Azure OpenAI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.models.backends import Backend, register
from qa.settings import setting

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.settings import Settings


@dataclass(frozen=True)
class AzureOptions:
    endpoint: str = setting(help="the Azure OpenAI resource, `https://NAME.openai.azure.com`")
    deployment: str = setting(help="the Azure OpenAI deployment")
    api_version: str = setting("2024-10-21", help="the Azure OpenAI API version")
    api_key: str | None = setting(None, help="the Azure OpenAI key")


def _make(settings: Settings, options: AzureOptions, role: str) -> BaseChatModel:
    from langchain_openai import AzureChatOpenAI

    return AzureChatOpenAI(
        azure_endpoint=options.endpoint,
        azure_deployment=options.deployment,
        api_version=options.api_version,
        api_key=options.api_key,
        temperature=0,
        max_tokens=settings.max_tokens,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


register(Backend("azure", _make, lambda s, o: f"azure: {o.deployment} at {o.endpoint}", options=AzureOptions))
