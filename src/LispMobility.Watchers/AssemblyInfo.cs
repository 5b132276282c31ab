namespace LispMobility.Watchers;
