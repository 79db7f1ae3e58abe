def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="username"' in response.data and b'name="csrf_token"' in response.data


def test_seller_sees_customers(login_as):
    response = login_as("seller").get("/customers/")
    assert response.status_code == 200, response.data[:2000]
