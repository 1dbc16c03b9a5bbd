"""The configuration's one vocabulary: the CLI and the proxy name families, rules, model fields and transport
kinds the same way, because the proxy defines them and the CLI reads them."""

from __future__ import annotations

import dataclasses

import pytest

from orbridge.cli import config
from orbridge.cli.catalogue import ModelEntry
from orbridge.cli.resolve import Resolved, proxy_settings
from orbridge.proxy import settings as vocab
from orbridge.proxy import upstreams
from orbridge.proxy.app import create_app, make_transport
from orbridge.proxy.routing import choose_model
from orbridge.proxy.settings import ModelInfo, ModelMap, Routes, Settings, Upstream

# What each rule matches (beside a plain request, which none does).
MATCHING = {
    "background": {"model": "claude-haiku-4-5"},
    "think": {"thinking": {"type": "enabled", "budget_tokens": 2000}},
    "long_context": {"messages": [{"role": "user", "content": "word " * 400}]},
    "web_search": {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
    "image": {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]},
}


@pytest.mark.parametrize("rule", vocab.RULES)
def test_every_rule_a_profile_may_name_is_one_the_proxy_routes_by(rule: str) -> None:
    assert set(MATCHING) == set(vocab.RULES)
    profile = config.Profile(model="d/default", routes={rule: "r/x", vocab.THRESHOLD: 100})  # the CLI accepts it
    info = {"d/default": ModelEntry("d/default", vision=False)}
    settings = proxy_settings(Resolved(profile, None, "none", info), "t")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    assert choose_model(body, settings) == ("d/default", "default")
    assert choose_model({**body, **MATCHING[rule]}, settings) == ("r/x", rule)


def test_routes_table_splits_into_ordered_rules_and_the_threshold() -> None:
    routes = Routes.of({"think": "a", vocab.THRESHOLD: 1234, "background": "b"}, ("f",))
    assert routes == Routes(rules=(("think", "a"), ("background", "b")), long_context_threshold=1234,
                            fallbacks=("f",))
    assert Routes.of({}).long_context_threshold == Routes().long_context_threshold == vocab.DEFAULT_THRESHOLD


@pytest.mark.parametrize("tiers", [{}, {"opus": "o"}, {"sonnet": "s", "fable": "f"}, {"haiku": "h", "opus": "o"},
                                   {"model": None, "opus": "o"}, {"model": None, "sonnet": "s", "haiku": "h"}])
def test_profile_tiers_are_the_proxy_tiers(tiers: dict) -> None:
    profile = config.Profile(**({"model": "d"} | {f: None for f in vocab.FAMILIES} | tiers))
    settings = proxy_settings(Resolved(profile, None, "none", {}), "t")
    assert profile.tiers() == settings.models.tiers()
    assert list(profile.tiers()) == list(vocab.FAMILIES)


def test_model_info_is_read_from_a_catalogue_entry_by_field_name() -> None:
    entry = ModelEntry("x/y", "Y", 1000, 200, 1.5, 2.5, True, False, True)
    info = ModelInfo.of(entry)
    assert dataclasses.asdict(info) == {f.name: getattr(entry, f.name) for f in dataclasses.fields(ModelInfo)}
    assert info == ModelInfo(context_length=1000, max_output=200, price_in=1.5, price_out=2.5, tools=True,
                             reasoning=False, vision=True)


def test_every_preset_kind_is_a_registered_transport_kind() -> None:
    assert {p.kind for p in config.PRESETS.values()} | {config.DEFAULT_KIND} == set(upstreams.KINDS)


@pytest.mark.parametrize("kind", sorted(upstreams.KINDS))
def test_each_kind_builds_its_transport_or_the_pass_through(kind: str) -> None:
    settings = Settings(token="t", upstream=Upstream("http://127.0.0.1:9", kind=kind), models=ModelMap("m"),
                        check_upstream=False)
    app = create_app(settings)
    row = upstreams.KINDS[kind]
    if row.relays:
        assert app.state.passthrough is not None and app.state.handler is None
    else:
        assert app.state.passthrough is None and app.state.handler is not None
    assert type(make_transport(settings)).__name__ == row.transport.split(":")[1]


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown upstream kind 'nope'"):
        make_transport(Settings(token="t", upstream=Upstream("http://x", kind="nope"), models=ModelMap("m")))


def test_model_list_requests_by_wire_shape() -> None:
    assert upstreams.KINDS["openai"].models_request("http://h/v1/", "k") == (
        "http://h/v1/models", {"authorization": "Bearer k"})
    url, headers = upstreams.KINDS["anthropic"].models_request("https://h/anthropic", "k")
    assert url == "https://h/anthropic/v1/models" and headers["x-api-key"] == "k"
    assert upstreams.KINDS["anthropic"].models_request("https://h/v1", None)[0] == "https://h/v1/models"
