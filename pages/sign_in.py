"""Sign in: the only page a session that nobody has signed in to can reach."""

from myelo_cds.ui.signin import render_sign_in

render_sign_in()
