from tests.fixtures.app import api_sign_up, web_sign_up


async def test_signup_flow(client):
    response = await web_sign_up(client)
    assert response.status_code == 303, response.text
    me = await client.get("/me", headers={"accept": "text/html"})
    assert me.status_code == 200
    body = await api_sign_up(client, email="bob@example.org")
    assert len(body["number"]) == 8
