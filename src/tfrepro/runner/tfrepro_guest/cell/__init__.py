"""Model cells: the model set up from the job (built-in or the user's build_model), tfrepro's
own training loop over the host's batch order, the final evaluation."""
