"""`webmcp deploy kubernetes`: manifests for running a config as replicas behind a Service."""

from __future__ import annotations

from pathlib import Path

import click

from webmcp.cli.options import CONFIG_OPTION, reports_errors
from webmcp.errors import ConfigError, count


@click.group()
def deploy() -> None:
    """Write deployment manifests for a config."""


@deploy.command()
@CONFIG_OPTION
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="The folder to write the manifests into (created).")
@click.option("--name", default="webmcp", show_default=True, help="Name of the Deployment, Service and the rest.")
@click.option("--image", default="webmcp:latest", show_default=True, help="The container image (with webmcp "
              "installed as the `webmcp` command).")
@click.option("--namespace", default=None, help="metadata.namespace of every object (default: none, so "
              "kubectl's current one).")
@click.option("--prestop", default=5, show_default=True, type=click.IntRange(0, 300),
              help="Seconds the pod waits after it is taken out of the Service, before SIGTERM starts the drain.")
@click.option("--service-monitor", is_flag=True, help="Also write a prometheus-operator ServiceMonitor.")
@reports_errors
def kubernetes(config: str, output: str, name: str, image: str, namespace: str | None, prestop: int,
               service_monitor: bool) -> None:
    """Write Deployment, Service, ConfigMap, PodDisruptionBudget, and (with scaling.replicas min < max) a
    HorizontalPodAutoscaler plus prometheus-adapter rules, into OUTPUT; refuses a config that cannot run as
    several instances, naming what blocks it."""
    from webmcp.deploy import kubernetes as k8s
    from webmcp.deploy.scale_out import blockers, warnings
    from webmcp.kinds.imports import load

    spec = load(config)
    problems = blockers(spec)
    if problems:
        raise ConfigError(problems)
    for warning in warnings(spec):
        click.echo(f"warning: {warning.render()}", err=True)
    options = k8s.Options(name=name, image=image, namespace=namespace, prestop=prestop,
                          service_monitor=service_monitor)
    written = k8s.write(spec, options, Path(output))
    for path in written:
        click.echo(str(path))
    secrets = k8s.secret_variables(spec)
    if secrets:
        click.echo(f"the pods read {count(len(secrets), 'variable')} from the Secret {name}-secrets (create it: "
                   f"kubectl create secret generic {name}-secrets "
                   + " ".join(f"--from-literal={v}=..." for v in secrets) + ")", err=True)
