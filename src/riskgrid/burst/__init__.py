"""Cloud bursting: job sizing from the grid's cost model, the burst planner, Kueue's quota
rules and a discrete-event capacity simulation of a day of desk submissions."""
