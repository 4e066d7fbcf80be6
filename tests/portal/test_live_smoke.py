import httpx


async def test_live_server_is_ready(live_server):
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{live_server.url}/readyz")
    assert response.json()["status"] == "ok"
