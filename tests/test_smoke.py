from tests.support.shops import ApiClient


def test_health_reports_connected_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json()["database"] == "connected"


def test_register_creates_shop_and_signs_in(app):
    owner = ApiClient(app, "owner@example.com")
    owner.register("Corner Shop")
    response = owner.get("/api/auth/me")
    assert response.status_code == 200
    assert response.get_json()["client"]["name"] == "Corner Shop"
    assert response.get_json()["user"]["role"] == "owner"
