"""A binary-latent VAE with MLP encoder and decoder, written as a vartools JAX model.

Model (the binary VAE of ARM, DisARM and REBAR, with tanh MLPs; the 8x8 digits of
``vartools.catalogue.sbn.load_digits_binary`` stand in for MNIST):

    z ~ Bernoulli(sigmoid(c))                                (K latents, prior logits c)
    x | z ~ Bernoulli(sigmoid(MLP_dec(z)))                   (64 pixels)
    q(z | x) = Bernoulli(sigmoid(MLP_enc(x)))                (the encoder)

ELBO(x) = E_q[log p(x | z) + log p(z) - log q(z | x)]. With the encoder held fixed
inside the learning signal f, grad_enc ELBO = E_q[f(z) grad_enc log q(z | x)] (the
term E_q[grad_enc log q] is zero): ``encoder_problem`` is this score-function problem
for a minibatch x (B, 64), theta = the encoder's weights (named ``w1[i,j]``, ``b1[j]``,
...), its distribution a ``vartools.jax`` model with the minibatch as context and the
factorised logits declared (so ARM, DisARM, local expectation, straight-through and
Gumbel-softmax run through ``vartools.jax.via_logits``). ``train_vae`` maximises the
ELBO with Adam: the encoder gradient from any vartools estimator, the decoder and
prior gradients exactly given independent draws of z.

The package has one module per concern:

- ``model``: the VAE (``init_vae``, ``elbo``, ``elbo_per_example``), the encoder's
  score-function problem (``encoder_problem``) and the IWAE problem (``vimco_problem``);
- ``estimators``: estimators adapted to the model (``on_logits``,
  ``unordered_set_per_example``);
- ``training``: ``train_vae``.

Example:
    >>> import numpy as np
    >>> from vartools.jax.vae.model import encoder_problem, init_vae
    >>> params = init_vae(8, 16, rng=np.random.default_rng(0))
    >>> x = np.zeros((2, 64))
    >>> prob = encoder_problem(params, x)
    >>> prob.dist.event_shape, prob.dist.param_names[0]
    ((2, 8), 'b1[0]')
"""

__all__: list[str] = []
