"""The labeler pages' form fields name their help text and errors in aria-describedby."""

import re


def test_a_refused_field_is_described_by_its_error(labeler_client):
    response = labeler_client.post(
        "/labeler/password/",
        {"old_password": "not-it", "new_password1": "x", "new_password2": "y"},
    )
    html = response.content.decode()
    widget = re.search(r"<input[^>]*name=\"old_password\"[^>]*>", html).group(0)
    described = re.search(r'aria-describedby="([^"]+)"', widget).group(1).split()
    assert "id_old_password_error0" in described
    assert 'id="id_old_password_error0"' in html
    help_widget = re.search(r"<input[^>]*name=\"new_password1\"[^>]*>", html).group(0)
    assert "id_new_password1_helptext" in help_widget
