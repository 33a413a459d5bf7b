"""What each broker is configured with (config/brokers.py), and what /metrics reads from a real
RabbitMQ: its queue depth, and the consumer_timeout the runner's time limit must stay under."""

import re
import subprocess
from pathlib import Path

import pytest

from config.brokers import RABBITMQ_CONSUMER_TIMEOUT_S, broker_kind, celery_broker_options
from runner.tasks import RUN_TIME_LIMIT_S
from tests.support.brokers import broker_in_use

from .test_metrics import sample, scrape

pytestmark = pytest.mark.django_db


def _options(url: str) -> dict:
    return celery_broker_options(url, visibility_timeout_s=3600, filesystem_dir=Path("/x"))


def test_the_broker_kind_comes_from_the_url_scheme_and_junk_is_refused():
    assert broker_kind("redis://127.0.0.1:6379/0") == "redis"
    assert broker_kind("rediss://host:6380/0") == "redis"
    assert broker_kind("amqp://guest:guest@127.0.0.1:5672//") == "rabbitmq"
    assert broker_kind("amqps://u:p@mq.example/kb") == "rabbitmq"
    assert broker_kind("filesystem://localhost/") == "filesystem"
    with pytest.raises(ValueError, match="unsupported broker scheme 'sqs'"):
        broker_kind("sqs://key:secret@")


def test_rabbitmq_gets_quorum_queues_confirms_and_heartbeats_and_redis_keeps_its_timeout():
    rabbit, redis_, files = (_options(u) for u in ("amqp://h//", "redis://h/0", "filesystem://localhost/"))
    assert rabbit["task_default_queue_type"] == rabbit["task_create_missing_queue_type"] == "quorum"
    assert rabbit["broker_transport_options"] == {"confirm_publish": True}
    assert rabbit["worker_detect_quorum_queues"] is True and rabbit["broker_heartbeat"] == 30
    assert redis_["task_default_queue_type"] == "classic"
    assert redis_["broker_transport_options"]["visibility_timeout"] == 3600
    assert files["broker_transport_options"]["data_folder_in"] == "/x/queue"
    # Every broker sets the same keys: switching broker never keeps an option of the other.
    assert rabbit.keys() == redis_.keys() == files.keys()


def test_the_runs_hard_time_limit_stays_under_the_servers_consumer_timeout():
    """RabbitMQ closes the channel of a delivery unacknowledged past consumer_timeout and hands
    the job to another worker: a run at its cap (RUN_TIME_LIMIT_S) must be acknowledged first.
    Read from the shared server itself, so a node configured lower fails here."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "eval", "application:get_env(rabbit, consumer_timeout)."],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"\{ok,(\d+)\}", out)
    assert found, f"consumer_timeout is disabled or unreadable: {out!r}"
    server_s = int(found.group(1)) / 1000
    assert server_s == RABBITMQ_CONSUMER_TIMEOUT_S
    assert server_s > RUN_TIME_LIMIT_S + 60  # a minute for the results to be written and acked


@pytest.fixture(scope="module")
def vhost():
    from tests.support.rabbitmq import Vhost

    vhost = Vhost("metrics")
    vhost.create()
    yield vhost
    vhost.delete()


def test_metrics_read_the_queue_depth_from_rabbitmq(client, vhost):
    from runner.publishing import send_run

    with broker_in_use(vhost.url):
        for run_id in (1, 2, 3):  # no worker consumes this vhost: they wait in the queue
            send_run(run_id=run_id, queue="gpu", attempt=0)
        text = scrape(client)
    assert sample(text, "kb_queue_depth", queue="gpu") == 3
    # Never declared in this vhost: nothing waits there, and the scrape still answers.
    assert re.search(r'^kb_queue_depth\{queue="cpu"\} 0(\.0)?$', text, re.MULTILINE)


def test_metrics_leave_queue_depth_out_while_rabbitmq_is_down(client):
    from tests.support.brokers import free_port

    with broker_in_use(f"amqp://guest:guest@127.0.0.1:{free_port()}//"):
        text = scrape(client)
    assert "kb_queue_depth{" not in text
