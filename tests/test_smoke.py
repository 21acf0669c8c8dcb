import vartools as vt


def test_liu_toy_exact_gradient_matches_published_value():
    g = vt.exact_gradient(vt.make_problem("liu_toy", eta=0.0))
    assert abs(g.sum() - (-0.045)) < 1e-12
