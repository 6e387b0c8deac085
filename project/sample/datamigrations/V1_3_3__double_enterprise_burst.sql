-- Release: 1.3
UPDATE sample_rate_limit SET burst = burst * 2 WHERE tier = 'enterprise';
