import os
import boto3
import pytest
import redis

API_ROOT = "https://api.shop-staging.io/v2"


@pytest.fixture(scope="session")
def s3_bucket():
    s3 = boto3.resource("s3")
    bucket = s3.create_bucket(Bucket="shop-test-artifacts")
    yield bucket
    bucket.objects.all().delete()


@pytest.fixture
def cache():
    client = redis.Redis(host=os.environ.get("REDIS_HOST", "localhost"), port=6379, db=3)
    yield client
    client.flushdb()


@pytest.fixture
def api_token():
    return "test-token"
