import smtplib
import subprocess

import httpx
import pytest
import requests
from openai import OpenAI
from transformers import AutoTokenizer

from shop.storage import upload_invoice

API = "https://api.github.com/repos/pallets/flask"


@pytest.mark.flaky(reruns=3)
def test_github_stars_are_reported():
    response = requests.get(API, timeout=10)
    assert response.json()["stargazers_count"] > 1000


@pytest.mark.flaky(reruns=3)
def test_invoice_upload(s3_bucket):
    key = upload_invoice(s3_bucket, b"%PDF-1.4")
    assert key.endswith(".pdf")


@pytest.mark.flaky(reruns=2)
def test_cart_is_cached(cache):
    cache.set("cart:1", "3 items")
    assert cache.get("cart:1") == b"3 items"


@pytest.mark.flaky(max_runs=3)
def test_product_description_summary():
    client = OpenAI()
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise: red shoes"}]
    )
    assert "shoe" in reply.choices[0].message.content.lower()


@pytest.mark.flaky(reruns=2)
def test_clone_theme_repository(tmp_path):
    subprocess.run(["git", "clone", "--depth=1", "https://github.com/shop/theme.git", str(tmp_path)], check=True)
    assert (tmp_path / "theme.css").exists()


@pytest.mark.flaky(reruns=2)
def test_order_confirmation_mail():
    with smtplib.SMTP("mail.shop-staging.io", 587) as server:
        server.starttls()
        server.sendmail("shop@example.com", ["qa@example.com"], "Subject: order 1\n\nthanks")


@pytest.mark.flaky(reruns=2)
async def test_partner_feed_is_valid_json():
    async with httpx.AsyncClient(base_url="https://partners.shop-staging.io") as client:
        response = await client.get("/feed.json")
    assert response.json()["items"]


@pytest.mark.flaky(reruns=2)
def test_tokenizer_handles_sku_codes():
    tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
    assert tokenizer.tokenize("sku-1")
