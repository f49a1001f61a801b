// Package simulate is Mercato's counterfactual pricing simulator: a
// discrete-event simulation in simulated time (no wall clock, no HTTP) that
// runs the platform's own pricing core (pricing.Pricer with the rule and
// learn policies) and replenishment decision (replenishment.Decide, Stats)
// against a known ground truth, and compares pricing policies on it.
//
// Ground truth per SKU: a Zipf popularity, a list price with bounds, a unit
// cost, a demand form (constant elasticity, logit with a logistic
// reservation price, linear), hourly and weekly seasonality, a slow daily
// drift, random shocks (×3–×10 for one to two hours on a few SKUs a day)
// and supplier lead times with variance. Shoppers arrive as a Poisson
// process per SKU, each carrying a willingness to pay drawn from the SKU's
// curve, and buy one unit if the price is at or below it and there is stock.
// Each SKU's shoppers come from their own random stream per seed, so every
// policy meets the same shoppers (common random numbers).
package simulate
