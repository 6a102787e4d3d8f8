"""The test servers themselves: they start, serve, and survive a restart with their data."""

from servers import EtcdServer, RedisServer


def test_etcd_keeps_data_across_restart(etcd_server: EtcdServer) -> None:
    etcd_server.etcdctl("put", "/lswitch/a", '{"id": "a"}')
    etcd_server.restart()
    assert '{"id": "a"}' in etcd_server.etcdctl("get", "/lswitch/a")


def test_redis_keeps_data_across_restart(redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis(port=redis_server.port)
    client.set("{lswitch.t}a", '{"id": "a"}')
    client.close()
    redis_server.restart()
    client = redis.Redis(port=redis_server.port)
    assert client.get("{lswitch.t}a") == b'{"id": "a"}'
    client.close()
